import type { PeerResult } from './peer-targets.js';

/**
 * One row per system, operation and in-flight count, in the order given. Items per second
 * (jobs, events) appear for operations that carry more than one item per call.
 */
export function loadTable(results: PeerResult[]): string {
  const header = ['system', 'operation', 'in flight', 'ops/s', 'items/s', 'p50 ms', 'p99 ms', 'client CPU µs/op', 'server CPU µs/op'];
  const rows = results.map((r) =>
    [
      r.system,
      r.name,
      String(r.concurrency),
      String(Math.round(r.opsPerSecond)),
      r.itemsPerOp === undefined ? '' : String(Math.round(r.opsPerSecond * r.itemsPerOp)),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      String(Math.round(r.clientCpuUsPerOp)),
      String(Math.round(r.serverCpuUsPerOp)),
    ].join(' | '),
  );
  const align = ['---', '---', ...header.slice(2).map(() => '---:')];
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((row) => `| ${row} |`)].join('\n');
}
