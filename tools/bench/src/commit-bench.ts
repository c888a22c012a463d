import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { GROUP_COMMIT_DEFAULTS, openStorage, type Storage, type StorageSettings } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';
import { withJobkeepAndEcho } from './server-process.js';

/** Calls in flight at once, from one process, all to one node's database. */
const CONCURRENCY = [1, 16, 64];

/**
 * Settings the store and the server are measured with: one write per transaction (as before
 * group commit) as the baseline, the defaults, longer waits for a batch to fill, and relaxed
 * durability.
 */
const VARIANTS: { label: string; settings: Partial<StorageSettings>; args: string[] }[] = [
  {
    label: 'baseline: max writes 1 (no group commit)',
    settings: { groupCommit: { ...GROUP_COMMIT_DEFAULTS, maxWrites: 1 } },
    args: ['--group-commit-max-writes', '1'],
  },
  { label: 'defaults', settings: {}, args: [] },
  ...[1, 2].map((maxWaitMs) => ({
    label: `max wait ${maxWaitMs} ms`,
    settings: { groupCommit: { ...GROUP_COMMIT_DEFAULTS, maxWaitMs } },
    args: ['--group-commit-max-wait-ms', String(maxWaitMs)],
  })),
  { label: 'power-loss-may-lose-writes', settings: { durability: 'power-loss-may-lose-writes' }, args: ['--durability', 'power-loss-may-lose-writes'] },
];

const newJob = (i: number) => ({ labels: { shard: `s${i % 8}` }, spec: { image: 'bench:1', args: ['--n', String(i)] } });

/**
 * Group commit (issue 9): CreateJob to one requester database with 1, 16 and 64 calls in
 * flight (and, in process, lock cycles on coordination.db), in process against the store (this process's CPU per operation) and through gRPC
 * against the server in its own process beside the echo baseline at the same concurrency; each
 * with every variant of the settings above. With one transaction and one fsync per write, more
 * calls in flight only queue; with group commit they share transactions, so the rate grows with
 * them until CPU is the limit.
 */
export async function commitBench(scale: number): Promise<Measurement[]> {
  const results: Measurement[] = [];
  for (const variant of VARIANTS) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-commit-'));
    const storage = openStorage({ dataDir, ...variant.settings });
    try {
      for (const concurrency of CONCURRENCY) {
        const options = { ops: 5000 * scale, warmup: 500 * scale, concurrency, serverPid: process.pid };
        results.push(
          await measure(`store createJob, ${concurrency} in flight, ${variant.label}`, options, (i) =>
            storage.jobStore.createJob(`commit-${concurrency}`, { ...newJob(i), state: 'QUEUED' }),
          ),
        );
      }
      for (const concurrency of CONCURRENCY) results.push(await lockCycles(storage, concurrency, variant.label, scale));
    } finally {
      storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  for (const [index, variant] of VARIANTS.entries()) {
    await withJobkeepAndEcho(async ({ jobkeep, echo }) => {
      // The echo baseline does not depend on jobkeep's settings: measured once.
      const servers = index === 0 ? ([['echo baseline', echo], [`jobkeep, ${variant.label}`, jobkeep]] as const) : ([[`jobkeep, ${variant.label}`, jobkeep]] as const);
      for (const concurrency of CONCURRENCY) {
        for (const [label, server] of servers) {
          const client = createJobStoreClient(server.address);
          const options = { ops: 3000 * scale, warmup: 1000 * scale, concurrency, serverPid: server.child.pid! };
          results.push(
            await measure(`gRPC CreateJob, ${concurrency} in flight, ${label}`, options, (i) =>
              client.createJob({ nodeId: `commit-${concurrency}`, job: { ...newJob(i), state: JobState.QUEUED } }),
            ),
          );
          client.close();
        }
      }
    }, variant.args);
  }
  return results;
}

/**
 * Acquire+release of a new lock name each time, in process, with a lease per caller: the
 * decisions of coordination.db, which its group commit batches like a node database's writes.
 */
async function lockCycles(storage: Storage, concurrency: number, label: string, scale: number): Promise<Measurement> {
  const leases = await Promise.all(Array.from({ length: concurrency }, () => storage.leaseStore.grant(600)));
  // A free list: no two cycles in flight share a lease, as no two agents would.
  const idle = leases.map((lease) => lease.id);
  const options = { ops: 5000 * scale, warmup: 500 * scale, concurrency, serverPid: process.pid };
  return measure(`store lock acquire+release, ${concurrency} in flight, ${label}`, options, async (i) => {
    const leaseId = idle.pop()!;
    const name = `/bench/${concurrency}/${i}`;
    const { fencingToken } = await storage.lockStore.acquire({ name, leaseId });
    await storage.lockStore.release(name, leaseId, fencingToken);
    idle.push(leaseId);
  });
}
