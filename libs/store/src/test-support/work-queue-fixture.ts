import { expect } from 'vitest';
import type { ClaimsReturned } from '../claim-returner.js';
import { checkNodeDatabase } from '../consistency-check.js';
import type { Job } from '../job-model.js';
import type { CreateJobInput } from '../job-store.js';
import type { Storage } from '../storage.js';
import { useTempStorage } from './temp-storage.js';

export const NODE = 'requester-1';
export const OTHER_NODE = 'requester-2';
export const T0 = 1_700_000_000_000;

export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not true after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * What the work-queue tests share: a fresh storage per test with a clock the test moves, and
 * the calls they make over and over (queue a job, claim, drain a queue, end a lease).
 */
export function useWorkQueueFixture() {
  const temp = useTempStorage('perTest');

  /** A storage whose clock the test moves, and what the claim returner reported. */
  function openClocked() {
    const clock = { now: T0 };
    const returned: ClaimsReturned[] = [];
    const storage = temp.open({ clock: () => clock.now, onClaimsReturned: (done) => returned.push(...done) });
    return { storage, clock, returned };
  }

  const queued = async (storage: Storage, input: CreateJobInput = {}, nodeId = NODE): Promise<Job> =>
    (await storage.jobStore.createJob(nodeId, { state: 'QUEUED', ...input })).job;

  const getJob = (storage: Storage, jobId: string, nodeId = NODE) => storage.jobStore.getJob(nodeId, { id: jobId });

  const claim = (storage: Storage, leaseId: number, queue = '', worker?: string, nodeId = NODE) =>
    storage.workQueues.claimJob(nodeId, { queue, leaseId, worker });

  /** Claims until the queue gives nothing; the ids in the order they were handed out. */
  async function drain(storage: Storage, leaseId: number, queue = ''): Promise<string[]> {
    const ids: string[] = [];
    for (;;) {
      const { job } = await claim(storage, leaseId, queue);
      if (job === undefined) return ids;
      ids.push(job.id);
    }
  }

  /** Claims one job and fails the test if the queue gave nothing. */
  async function claimOne(storage: Storage, leaseId: number, queue = '', worker?: string): Promise<Job> {
    const { job } = await claim(storage, leaseId, queue, worker);
    if (job === undefined) throw new Error(`queue ${JSON.stringify(queue)} gave no job`);
    return job;
  }

  const proofOf = (job: Job) => ({ leaseId: job.claim!.leaseId, token: job.claim!.token });

  /** Ends a lease by expiry (moving the clock past it) and waits until its claims are returned. */
  async function expireLease(storage: Storage, clock: { now: number }, lease: { id: number; expireTime: number }) {
    clock.now = Math.max(clock.now, lease.expireTime);
    expect(await storage.leaseStore.expireDue()).toContain(lease.id);
    await storage.claims.returnOrphanedClaims();
  }

  const leaseClaimRows = (storage: Storage) => storage.coordination.db.prepare('SELECT lease_id, node_id FROM lease_claims ORDER BY lease_id, node_id').all();

  function expectConsistent(storage: Storage, nodeId = NODE) {
    expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', nodeId))).toEqual([]);
  }

  return { temp, openClocked, queued, getJob, claim, drain, claimOne, proofOf, expireLease, leaseClaimRows, expectConsistent };
}
