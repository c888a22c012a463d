import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openStorage, type Job, type Storage } from '@jobkeep/store';

/** Claims held by the lease that ends, one row each. */
const CLAIM_COUNTS = [1_000, 5_000, 15_000];

export interface ClaimReturnResult {
  claims: number;
  /** From the revoke until every claim is back in its queue. */
  returnMs: number;
  /** The longest the event loop was held up meanwhile: how long any other call would have waited. */
  longestStallMs: number;
  /** The baseline: the same number of RUNNING jobs moved back to QUEUED one UpdateJobState each, 64 in flight. */
  baselineMs: number;
}

/**
 * A lease ending while it holds many claims (a crashed agent that took a large share of a
 * queue): how long its jobs take to go back, and the longest the event loop stalls meanwhile,
 * in process against the store. Beside it, in the same run and database, the baseline: the same
 * number of jobs given back one UpdateJobState each.
 */
export async function claimReturnBench(): Promise<ClaimReturnResult[]> {
  const results: ClaimReturnResult[] = [];
  for (const claims of CLAIM_COUNTS) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-returns-'));
    const storage = openStorage({ dataDir });
    try {
      const lease = await claimAll(storage, claims);
      const stalls = monitorEventLoopDelay({ resolution: 1 });
      stalls.enable();
      const started = process.hrtime.bigint();
      await storage.leaseStore.revoke(lease);
      await storage.claims.returnOrphanedClaims();
      const returnMs = Number(process.hrtime.bigint() - started) / 1e6;
      stalls.disable();

      const other = await claimAll(storage, claims);
      const running = await runningJobs(storage);
      if (running.length !== claims) throw new Error(`the baseline found ${running.length} claimed jobs, not ${claims}`);
      const baselineStarted = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < running.length) {
            const job = running[next++]!;
            const claim = { leaseId: job.claim!.leaseId, token: job.claim!.token };
            await storage.jobStore.updateJobState('returns', { jobId: job.id, newState: 'QUEUED', claim });
          }
        }),
      );
      const baselineMs = Number(process.hrtime.bigint() - baselineStarted) / 1e6;
      await storage.leaseStore.revoke(other);
      results.push({ claims, returnMs, longestStallMs: stalls.max / 1e6, baselineMs });
    } finally {
      storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}

/** Queues `count` jobs and claims them all under a new lease; returns the lease. */
async function claimAll(storage: Storage, count: number): Promise<number> {
  for (let made = 0; made < count; made += 1_000) {
    await storage.batches.createBatch('returns', { jobs: Array.from({ length: Math.min(1_000, count - made) }, () => ({ state: 'QUEUED' as const, retryPolicy: { backoffMs: 0 } })) });
  }
  const lease = (await storage.leaseStore.grant(600)).id;
  let claimed = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (claimed < count) {
        claimed++;
        await storage.workQueues.claimJob('returns', { queue: '', leaseId: lease });
      }
    }),
  );
  return lease;
}

async function runningJobs(storage: Storage): Promise<Job[]> {
  const jobs: Job[] = [];
  let pageToken = '';
  do {
    const page = await storage.jobStore.listJobs('returns', { states: ['RUNNING'], pageSize: 1000, pageToken });
    jobs.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return jobs;
}

export function claimReturnTable(results: ClaimReturnResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.claims.toLocaleString('en')} | ${Math.round(r.returnMs).toLocaleString('en')} | ${Math.round((r.claims / r.returnMs) * 1000).toLocaleString('en')} | ${r.longestStallMs.toFixed(0)} | ${Math.round(r.baselineMs).toLocaleString('en')} |`,
  );
  return [
    '| claims of the lease | returned in ms | jobs/s | longest event-loop stall ms | baseline: as many UpdateJobState RUNNING→QUEUED, 64 in flight, ms |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}
