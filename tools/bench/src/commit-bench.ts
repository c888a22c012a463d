import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { openStorage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';
import { withJobkeepAndEcho } from './server-process.js';

/** Calls in flight at once, from one process, all to one node's database. */
const CONCURRENCY = [1, 16, 64];

/**
 * Group commit (issue 9): CreateJob to one requester database with 1, 16 and 64 calls in
 * flight, in process against the store (this process's CPU per operation) and through gRPC
 * against the server in its own process beside the echo baseline at the same concurrency. With
 * one transaction and one fsync per write, more calls in flight only queue; with group commit
 * they share transactions, so the rate grows with them until CPU is the limit.
 */
export async function commitBench(scale: number): Promise<Measurement[]> {
  const results: Measurement[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-commit-'));
  const storage = openStorage({ dataDir });
  try {
    for (const concurrency of CONCURRENCY) {
      const options = { ops: 5000 * scale, warmup: 500 * scale, concurrency, serverPid: process.pid };
      results.push(
        await measure(`store createJob, ${concurrency} in flight`, options, (i) =>
          storage.jobStore.createJob(`commit-${concurrency}`, { labels: { shard: `s${i % 8}` }, state: 'QUEUED', spec: { image: 'bench:1', args: ['--n', String(i)] } }),
        ),
      );
    }
  } finally {
    storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  await withJobkeepAndEcho(async ({ jobkeep, echo }) => {
    for (const concurrency of CONCURRENCY) {
      for (const [label, server] of [['echo baseline', echo], ['jobkeep', jobkeep]] as const) {
        const client = createJobStoreClient(server.address);
        const options = { ops: 3000 * scale, warmup: 1000 * scale, concurrency, serverPid: server.child.pid! };
        results.push(
          await measure(`gRPC CreateJob, ${concurrency} in flight, ${label}`, options, (i) =>
            client.createJob({ nodeId: `commit-${concurrency}`, job: { labels: { shard: `s${i % 8}` }, state: JobState.QUEUED, spec: { image: 'bench:1', args: ['--n', String(i)] } } }),
          ),
        );
        client.close();
      }
    }
  });
  return results;
}
