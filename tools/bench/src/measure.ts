import { readFileSync } from 'node:fs';

export interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time the measured server process spent per operation, when one was watched. */
  serverCpuUsPerOp?: number;
  /** Items (jobs, say) each operation carries, when an operation carries more than one. */
  itemsPerOp?: number;
}

/**
 * Runs `operation` `ops` times with `concurrency` in flight, after `warmup` runs that are not
 * counted (grpc-js needs a few seconds of load before its speed settles).
 */
export async function measure(
  name: string,
  options: { ops: number; warmup: number; concurrency: number; serverPid?: number; itemsPerOp?: number },
  operation: (index: number) => Promise<unknown>,
): Promise<Measurement> {
  await runConcurrently(options.warmup, options.concurrency, operation, []);
  const cpuBefore = options.serverPid === undefined ? 0 : processCpuMs(options.serverPid);
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  await runConcurrently(options.ops, options.concurrency, operation, latencies);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const cpuMs = options.serverPid === undefined ? undefined : processCpuMs(options.serverPid) - cpuBefore;
  return {
    name,
    ops: options.ops,
    seconds,
    opsPerSecond: options.ops / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    serverCpuUsPerOp: cpuMs === undefined ? undefined : (cpuMs * 1000) / options.ops,
    itemsPerOp: options.itemsPerOp,
  };
}

async function runConcurrently(
  ops: number,
  concurrency: number,
  operation: (index: number) => Promise<unknown>,
  latencies: number[],
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ops) {
      const index = next++;
      const started = process.hrtime.bigint();
      await operation(index);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The value at `fraction` of sorted values (0.5 the median). */
export function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

/** User plus system CPU time of a process, from /proc (Linux); clock ticks are 100 per second. */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * One row per measurement. When any of them carries `itemsPerOp`, two columns follow: items per
 * operation and items per second (headed with `itemName`, e.g. "jobs").
 */
export function markdownTable(measurements: Measurement[], itemName = 'items'): string {
  const withItems = measurements.some((m) => m.itemsPerOp !== undefined);
  const rows = measurements.map((m) => {
    const cells = [
      m.name,
      String(m.ops),
      String(Math.round(m.opsPerSecond)),
      m.p50Ms.toFixed(2),
      m.p99Ms.toFixed(2),
      m.serverCpuUsPerOp === undefined ? '' : String(Math.round(m.serverCpuUsPerOp)),
    ];
    if (withItems) {
      const perOp = m.itemsPerOp ?? 1;
      cells.push(String(perOp), String(Math.round(m.opsPerSecond * perOp)));
    }
    return `| ${cells.join(' | ')} |`;
  });
  const header = ['case', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'server CPU µs/op', ...(withItems ? [`${itemName}/op`, `${itemName}/s`] : [])];
  const align = ['---', ...header.slice(1).map(() => '---:')];
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}
