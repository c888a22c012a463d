import http from 'node:http';
import type { CallObserver } from '@jobkeep/api';
import type { CommittedBatch, Stall, Storage } from '@jobkeep/store';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets from 100 µs (a cached read) to 10 s (a deadline), in seconds. */
const RPC_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Writes per group commit: 1 for a lone write, up to --group-commit-max-writes. */
const BATCH_WRITES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/**
 * The server's Prometheus metrics: every RPC by method and status with its latency, group
 * commits by size and duration, the open node databases and their records by state (read from
 * the counters at scrape time), and the process's own (CPU, memory, event-loop lag).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly rpcSeconds = new Histogram({
    name: 'jobkeep_rpc_duration_seconds',
    help: 'RPCs handled, by method and status code, and how long each took (its _count is the number of calls)',
    labelNames: ['method', 'code'] as const,
    buckets: RPC_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly batchWrites = new Histogram({
    name: 'jobkeep_commit_batch_writes',
    help: 'Writes that shared one group commit of a database, by kind: requester, compute or coordination',
    labelNames: ['kind'] as const,
    buckets: BATCH_WRITES_BUCKETS,
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: 'jobkeep_commit_duration_seconds',
    help: 'How long one group commit held its transaction, fsync included, by database kind',
    labelNames: ['kind'] as const,
    buckets: RPC_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  private readonly stallCredited = new Counter({
    name: 'jobkeep_lease_stall_credited_seconds_total',
    help: 'Time the server ran nothing past --lease-stall-tolerance-ms, given back to the leases alive then',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'jobkeep_' });
  }

  /** For openStorage: records each group commit. */
  readonly observeBatch = ({ kind, writes, seconds }: CommittedBatch): void => {
    this.batchWrites.observe({ kind }, writes);
    this.commitSeconds.observe({ kind }, seconds);
  };

  /** For openStorage: records each stall given back to the leases. */
  readonly observeStallCredit = (stall: Stall): void => {
    this.stallCredited.inc(stall.lengthMs / 1000);
  };

  /** Reports the open databases of `storage` and their records by state at every scrape. */
  watchStorage(storage: Storage): void {
    new Gauge({
      name: 'jobkeep_open_databases',
      help: 'Node databases open now (bounded by --max-open-databases)',
      registers: [this.registry],
      collect() {
        this.set(storage.openDatabases().length);
      },
    });
    new Gauge({
      name: 'jobkeep_records',
      help: 'Records by state in each open node database: jobs of requester databases, executions of compute databases',
      labelNames: ['kind', 'node', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { kind, nodeId, counts } of storage.openDatabases()) {
          for (const [state, count] of Object.entries(counts)) this.set({ kind, node: nodeId, state }, count);
        }
      },
    });
  }

  /** For implementService: records each call's end. */
  readonly observeCall: CallObserver = (method, code, seconds) => {
    this.rpcSeconds.observe({ method: `${method.parent.typeName}/${method.name}`, code }, seconds);
  };

  /** Serves GET /metrics on `address` (host:port); resolves with the address bound. */
  async serve(address: string): Promise<{ address: string; close: () => Promise<void> }> {
    const server = http.createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('jobkeep serves only GET /metrics here\n');
        return;
      }
      this.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
      );
    });
    const match = /^(.*):(\d+)$/.exec(address)!;
    const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new Error(`cannot serve metrics on ${address}: ${error.message}`, { cause: error })));
      server.listen(Number(match[2]), host, () => resolve());
    });
    const bound = server.address() as { port: number };
    return {
      address: address.replace(/:\d+$/, `:${bound.port}`),
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
}
