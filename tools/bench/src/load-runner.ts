import { percentile, processCpuMs, type Measurement } from './measure.js';

export interface LoadOptions {
  /** Calls kept in flight: each of this many callers starts its next call when its last returns. */
  concurrency: number;
  /** Unmeasured load first: grpc-js (and etcd) take a few seconds of load to settle. */
  warmupSeconds: number;
  /** How long the measured load runs; calls in flight at its end are waited for and counted. */
  seconds: number;
  /** At most this many calls, warm-up included, for operations that use something up (queued jobs to claim). */
  maxOps?: number;
  /** The server process whose CPU time is read from /proc before and after. */
  serverPid: number;
  /** Items (jobs, events) each call carries, when more than one. */
  itemsPerOp?: number;
}

/** A measurement under load: the callers' count, and the CPU per call on both sides. */
export interface LoadMeasurement extends Measurement {
  concurrency: number;
  /** This process's user + system CPU per call (process.cpuUsage): the client's side. */
  clientCpuUsPerOp: number;
  serverCpuUsPerOp: number;
}

/**
 * `operation(index, caller)` receives a number unique across the warm-up and the measured run
 * (for distinct names and keys) and the caller's number, below `concurrency` (for what a caller
 * owns, such as its own lease). Latency is each call's, from its start to its settling.
 */
export async function runLoad(
  name: string,
  options: LoadOptions,
  operation: (index: number, caller: number) => Promise<unknown>,
): Promise<LoadMeasurement> {
  const budget = options.maxOps ?? Number.POSITIVE_INFINITY;
  let next = 0;
  // The warm-up may take a fifth of a limited budget, so that most of it is measured.
  await runFor(options.warmupSeconds, options.concurrency, budget / 5, () => next++, operation, []);
  const warmedUp = next;

  const latencies: number[] = [];
  const clientBefore = process.cpuUsage();
  const serverBefore = processCpuMs(options.serverPid);
  const started = process.hrtime.bigint();
  await runFor(options.seconds, options.concurrency, budget - warmedUp, () => next++, operation, latencies);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const serverMs = processCpuMs(options.serverPid) - serverBefore;
  const client = process.cpuUsage(clientBefore);

  const ops = latencies.length;
  latencies.sort((a, b) => a - b);
  return {
    name,
    concurrency: options.concurrency,
    ops,
    seconds,
    opsPerSecond: ops / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    clientCpuUsPerOp: (client.user + client.system) / ops,
    serverCpuUsPerOp: (serverMs * 1000) / ops,
    itemsPerOp: options.itemsPerOp,
  };
}

/** Runs `concurrency` callers until `seconds` have passed or `maxOps` calls were started. */
async function runFor(
  seconds: number,
  concurrency: number,
  maxOps: number,
  nextIndex: () => number,
  operation: (index: number, caller: number) => Promise<unknown>,
  latencies: number[],
): Promise<void> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let started = 0;
  const caller = async (callerIndex: number) => {
    while (started < maxOps && process.hrtime.bigint() < deadline) {
      started++;
      const callStarted = process.hrtime.bigint();
      await operation(nextIndex(), callerIndex);
      latencies.push(Number(process.hrtime.bigint() - callStarted) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, callerIndex) => caller(callerIndex)));
}
