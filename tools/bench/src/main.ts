import os from 'node:os';
import { adminBench } from './admin-bench.js';
import { claimReturnBench, claimReturnTable } from './claim-return-bench.js';
import { commitBench } from './commit-bench.js';
import { grpcBench } from './grpc-bench.js';
import { idOrderBench } from './id-order-bench.js';
import { importMemoryBench } from './import-memory-bench.js';
import { lockBench } from './lock-bench.js';
import { markdownTable, type Measurement } from './measure.js';
import { openBench } from './open-bench.js';
import { peerBench } from './peer-bench.js';
import { queueBench } from './queue-bench.js';
import { scaleBench } from './scale-bench.js';
import { storeBench } from './store-bench.js';
import { tokenBench } from './token-bench.js';

/**
 * `npx nx run @jobkeep/bench:bench`. JOBKEEP_BENCH_SCALE multiplies the operation counts;
 * JOBKEEP_BENCH_OPEN_EXECUTIONS sets the size of the database the restart case opens;
 * JOBKEEP_BENCH_CASES picks among store, grpc, open, locks, tokens, queues, returns, admin, imports, commit, ids, peers and scale (all by
 * default); the settings of peers and scale are listed in the README's Benchmarks section.
 */
const scale = Number(process.env.JOBKEEP_BENCH_SCALE ?? '1');
const cases = new Set((process.env.JOBKEEP_BENCH_CASES ?? 'store,grpc,open,locks,tokens,queues,returns,admin,imports,commit,ids,peers,scale').split(','));
const store = cases.has('store') ? await storeBench(scale) : [];
const grpc = cases.has('grpc') ? await grpcBench(scale) : [];
const openExecutions = Number(process.env.JOBKEEP_BENCH_OPEN_EXECUTIONS ?? '1000000');
const open = cases.has('open') ? await openBench(openExecutions) : { results: [], fileMb: 0 };
const locks = cases.has('locks') ? await lockBench(scale) : [];
const tokens = cases.has('tokens') ? await tokenBench(scale) : [];
const queues = cases.has('queues') ? await queueBench(scale) : { claims: [], bulk: [] };
const returns = cases.has('returns') ? await claimReturnBench() : [];
const admin = cases.has('admin') ? await adminBench(scale) : undefined;
const imports = cases.has('imports') ? await importMemoryBench() : undefined;
const commit = cases.has('commit') ? await commitBench(scale) : [];
const ids = cases.has('ids') ? await idOrderBench(scale) : [];
const peers = cases.has('peers') ? await peerBench() : undefined;
const scaled = cases.has('scale') ? await scaleBench() : undefined;

console.log(`# jobkeep benchmarks, ${new Date().toISOString()}`);
console.log(`node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, scale ${scale}`);
const sections: [title: string, results: Measurement[], itemName?: string][] = [
  ['Store, in process', store],
  ['gRPC, server in its own process, one client process', grpc],
  [`Restart recovery: opening a compute database (${open.fileMb.toFixed(0)} MiB)`, open.results],
  ['Locks, server in its own process, one client process', locks],
  ['Tokens: what authentication costs a lock, server in its own process, one client process', tokens],
  ['Work queues: ClaimJob by queue depth, store in process and gRPC (server in its own process)', queues.claims],
  ['Bulk create: jobs per second, store in process and gRPC (server in its own process)', queues.bulk, 'jobs'],
  ['Admin: drain of a requester node, store in process', admin?.drain ?? [], 'jobs'],
  [`Admin: export and import of that database (${admin?.exportMib.toFixed(1)} MiB of JSON lines)`, admin?.rows ?? [], 'rows'],
  [`Admin: whole-file operations, MiB of the ${admin?.fileMib} MiB .db file`, admin?.bytes ?? [], 'MiB'],
  ['Admin: consistency check of that database', admin?.check ?? []],
  ['Group commit: CreateJob to one database by calls in flight, store in process and gRPC (server in its own process)', commit],
  ['Job ids: random against time-ordered, store in process (CPU is this process\'s)', ids, 'jobs'],
];
for (const [title, results, itemName] of sections) {
  if (results.length > 0) console.log(`\n## ${title}\n\n${markdownTable(results, itemName)}`);
}
if (returns.length > 0) console.log(`\n## Claims returned when their lease ends, store in process\n\n${claimReturnTable(returns)}`);
for (const report of [imports, peers, scaled]) if (report !== undefined) console.log(`\n${report.markdown}`);
