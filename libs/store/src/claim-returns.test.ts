import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ClaimsReturned } from './claim-returner.js';
import { NODE, OTHER_NODE, eventually, useWorkQueueFixture } from './test-support/work-queue-fixture.js';

describe('work queues: claims of ended leases', () => {
  const { temp, openClocked, queued, getJob, claim, drain, claimOne, proofOf, expireLease, leaseClaimRows, expectConsistent } = useWorkQueueFixture();

  describe('when the lease of a claimer ends', () => {
    it('returns the job to its queue with one more retry, a backoff, its last successful queue kept and no claim', async () => {
      const { storage, clock, returned } = openClocked();
      const created = await queued(storage, { queue: 'stage-1', retryPolicy: { maxRetries: 3, backoffMs: 1000, maxBackoffMs: 60_000 } });
      const first = await storage.leaseStore.grant(60);
      const atStage1 = await claimOne(storage, first.id, 'stage-1');
      await storage.jobStore.updateJobState(NODE, { jobId: created.id, newState: 'QUEUED', nextQueue: 'stage-2', claim: proofOf(atStage1) });

      const dying = await storage.leaseStore.grant(10);
      const atStage2 = await claimOne(storage, dying.id, 'stage-2', 'worker-b');
      await expireLease(storage, clock, dying);

      const job = await getJob(storage, created.id);
      expect(job).toMatchObject({
        state: 'QUEUED',
        queue: 'stage-2',
        lastSuccessfulQueue: 'stage-1',
        retryCount: 1,
        retryTime: clock.now + 1000,
        claim: undefined,
        modifyTime: clock.now,
      });
      expect(job.revision).toBeGreaterThan(atStage2.revision);
      expect(job.stateMessage).toContain(`lease ${dying.id}`);
      expect(job.stateMessage).toContain('worker-b');
      const events = (await storage.jobStore.getJobHistory(NODE, { jobId: created.id })).items;
      expect(events.at(-1)).toMatchObject({ revision: job.revision, type: 'JOB_STATE_CHANGED', previousState: 'RUNNING', newState: 'QUEUED', time: clock.now });
      expect(returned).toEqual([{ leaseId: dying.id, nodeId: NODE, jobs: 1 }]);
      // The note that the lease had claims here goes once they are returned.
      expect(leaseClaimRows(storage)).toEqual([{ lease_id: first.id, node_id: NODE }]);
      expectConsistent(storage);
    });

    it('makes the returned job claimable at its retry time and not a millisecond before', async () => {
      const { storage, clock } = openClocked();
      const created = await queued(storage, { retryPolicy: { backoffMs: 5000 } });
      const dying = await storage.leaseStore.grant(2);
      await claimOne(storage, dying.id);
      await expireLease(storage, clock, dying);
      const { retryTime } = await getJob(storage, created.id);
      expect(retryTime).toBe(clock.now + 5000);

      clock.now = retryTime - 1;
      const lease = await storage.leaseStore.grant(60);
      expect(await claim(storage, lease.id)).toEqual({ queueHeld: false });
      clock.now = retryTime;
      const again = await claimOne(storage, lease.id);
      expect(again).toMatchObject({ id: created.id, state: 'RUNNING', retryCount: 1, retryTime: 0, claim: { leaseId: lease.id } });
    });

    it('backs off exponentially up to max_backoff_ms, then FAILS the job once it is out of retries', async () => {
      const { storage, clock } = openClocked();
      const created = await queued(storage, { queue: 'q', retryPolicy: { maxRetries: 4, backoffMs: 100, maxBackoffMs: 300 } });
      const waits: number[] = [];
      let job = created;
      for (let attempt = 1; attempt <= 4; attempt++) {
        clock.now = Math.max(clock.now, job.retryTime);
        const lease = await storage.leaseStore.grant(2);
        await claimOne(storage, lease.id, 'q');
        await expireLease(storage, clock, lease);
        job = await getJob(storage, created.id);
        expect(job).toMatchObject({ state: 'QUEUED', retryCount: attempt, claim: undefined });
        waits.push(job.retryTime - clock.now);
      }
      // min(backoffMs * 2^(n-1), maxBackoffMs) for the n-th retry.
      expect(waits).toEqual([100, 200, 300, 300]);

      clock.now = job.retryTime;
      const last = await storage.leaseStore.grant(2);
      await claimOne(storage, last.id, 'q');
      await expireLease(storage, clock, last);
      job = await getJob(storage, created.id);
      expect(job).toMatchObject({ state: 'FAILED', retryCount: 4, claim: undefined });
      expect(job.stateMessage).toMatch(/out of retries/);
      expectConsistent(storage);
    });

    it('keeps the age of a returned job: once its backoff is over it goes before younger jobs of its priority', async () => {
      const { storage, clock } = openClocked();
      const oldest = await queued(storage, { retryPolicy: { backoffMs: 100 } });
      const dying = await storage.leaseStore.grant(2);
      await claimOne(storage, dying.id);
      const younger = [await queued(storage), await queued(storage)];
      await expireLease(storage, clock, dying);
      clock.now += 100;
      const lease = await storage.leaseStore.grant(60);
      expect(await drain(storage, lease.id)).toEqual([oldest.id, younger[0]!.id, younger[1]!.id]);
    });

    it('returns a job with backoff 0 after more than 1,024 retries, and the claims of other leases with it', async () => {
      const { storage, clock } = openClocked();
      const created = await queued(storage, { retryPolicy: { maxRetries: 2000, backoffMs: 0 } });
      const worker = await storage.leaseStore.grant(3600);
      // 1,024 retries given back by a worker, then a lost claim: the 1,025th.
      for (let retry = 1; retry <= 1024; retry++) {
        const running = await claimOne(storage, worker.id);
        await storage.jobStore.updateJobState(NODE, { jobId: created.id, newState: 'QUEUED', claim: proofOf(running) });
      }
      const first = await storage.leaseStore.grant(2);
      const second = await storage.leaseStore.grant(2);
      await claimOne(storage, first.id);
      const elsewhere = await queued(storage, {}, OTHER_NODE);
      expect((await claim(storage, second.id, '', undefined, OTHER_NODE)).job?.id).toBe(elsewhere.id);

      clock.now = first.expireTime;
      await storage.leaseStore.expireDue();
      await storage.claims.returnOrphanedClaims();
      // The other lease's claims first: a job that cannot be returned must not hold them up.
      expect(await getJob(storage, elsewhere.id, OTHER_NODE)).toMatchObject({ state: 'QUEUED', retryCount: 1, claim: undefined });
      expect(await getJob(storage, created.id)).toMatchObject({ state: 'QUEUED', retryCount: 1025, retryTime: clock.now, claim: undefined });
    });

    it('FAILS a job with max_retries 0 at its first lost claim', async () => {
      const { storage, clock } = openClocked();
      const created = await queued(storage, { retryPolicy: { maxRetries: 0 } });
      const lease = await storage.leaseStore.grant(2);
      await claimOne(storage, lease.id);
      await expireLease(storage, clock, lease);
      const job = await getJob(storage, created.id);
      expect(job).toMatchObject({ state: 'FAILED', retryCount: 0 });
      expect(job.stateMessage).toMatch(/out of retries/);
    });

    it('tries a return that could not be written again later, until the job is back in its queue', async () => {
      const returned: ClaimsReturned[] = [];
      const failures: unknown[] = [];
      const storage = temp.open({ onClaimsReturned: (done, failure) => (returned.push(...done), failure && failures.push(failure)) });
      const job = (await storage.jobStore.createJob(NODE, { state: 'QUEUED' })).job;
      const lease = await storage.leaseStore.grant(60);
      await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id });
      // Another process holds the database's write lock (an operator's sqlite3, say) past the busy timeout.
      const other = new Database(storage.locations.nodeDatabasePath('requester', NODE));
      other.exec('BEGIN IMMEDIATE');
      await storage.leaseStore.revoke(lease.id);
      await storage.claims.settled();
      expect(failures).toHaveLength(1);
      expect((await getJob(storage, job.id)).state).toBe('RUNNING');
      other.exec('COMMIT');
      other.close();
      // Reported once the lease's note is gone too, which commits on coordination.db after the job's return.
      await eventually(async () => returned.length > 0);
      expect((await getJob(storage, job.id)).state).toBe('QUEUED');
      expect(returned).toEqual([{ leaseId: lease.id, nodeId: NODE, jobs: 1 }]);
    }, 30_000);

    it('returns the claims of a revoked lease from every requester database, and only the claims of that lease', async () => {
      const { storage, returned } = openClocked();
      const mine = [await queued(storage), await queued(storage, {}, OTHER_NODE)];
      const theirs = await queued(storage);
      const revoked = await storage.leaseStore.grant(60);
      const living = await storage.leaseStore.grant(60);
      await claimOne(storage, revoked.id);
      expect((await claim(storage, revoked.id, '', undefined, OTHER_NODE)).job?.id).toBe(mine[1]!.id);
      const kept = await claimOne(storage, living.id);
      expect(kept.id).toBe(theirs.id);

      await storage.leaseStore.revoke(revoked.id);
      await storage.claims.returnOrphanedClaims();

      expect(await getJob(storage, mine[0]!.id)).toMatchObject({ state: 'QUEUED', retryCount: 1, claim: undefined });
      expect(await getJob(storage, mine[1]!.id, OTHER_NODE)).toMatchObject({ state: 'QUEUED', retryCount: 1, claim: undefined });
      expect(await getJob(storage, theirs.id)).toEqual(kept);
      expect([...returned].sort((a, b) => a.nodeId.localeCompare(b.nodeId))).toEqual([
        { leaseId: revoked.id, nodeId: NODE, jobs: 1 },
        { leaseId: revoked.id, nodeId: OTHER_NODE, jobs: 1 },
      ]);
      expect(leaseClaimRows(storage)).toEqual([{ lease_id: living.id, node_id: NODE }]);
      expectConsistent(storage);
      expectConsistent(storage, OTHER_NODE);
    });

    it('returns a lease holding more claims than one transaction takes in several, every one of them', async () => {
      const commits: number[] = [];
      const returned: ClaimsReturned[] = [];
      const storage = temp.open({ onBatchCommitted: ({ writes }) => commits.push(writes), onClaimsReturned: (done) => returned.push(...done) });
      await storage.batches.createBatch(NODE, { jobs: Array.from({ length: 1_200 }, () => ({ state: 'QUEUED' as const })) });
      const lease = await storage.leaseStore.grant(60);
      for (let i = 0; i < 1_200; i++) await claimOne(storage, lease.id);

      commits.length = 0;
      // Counts the turns of the event loop while the claims go back: other calls run in them.
      let turns = 0;
      let counting = true;
      const count = () => {
        if (!counting) return;
        turns++;
        setImmediate(count);
      };
      setImmediate(count);
      await storage.leaseStore.revoke(lease.id);
      await storage.claims.returnOrphanedClaims();
      counting = false;

      expect(returned).toEqual([{ leaseId: lease.id, nodeId: NODE, jobs: 1_200 }]);
      // 500, 500 and 200, with the event loop turning between them (without, it turns not once).
      expect(commits.length).toBeGreaterThanOrEqual(3);
      expect(turns).toBeGreaterThanOrEqual(2);
      const page = await storage.jobStore.listJobs(NODE, { states: ['QUEUED'], pageSize: 1 });
      expect(page.items).toHaveLength(1);
      const running = await storage.jobStore.listJobs(NODE, { states: ['RUNNING'], pageSize: 1 });
      expect(running.items).toEqual([]);
      expect(leaseClaimRows(storage)).toEqual([]);
      expectConsistent(storage);
    }, 30_000);

    it('keeps the claims of a lease kept alive past its first TTL', async () => {
      const { storage, clock } = openClocked();
      await queued(storage);
      const lease = await storage.leaseStore.grant(2);
      const job = await claimOne(storage, lease.id);
      clock.now += 1500;
      await storage.leaseStore.keepAlive(lease.id);
      clock.now += 1500;
      expect(await storage.leaseStore.expireDue()).toEqual([]);
      await storage.claims.returnOrphanedClaims();
      expect(await getJob(storage, job.id)).toEqual(job);
      const done = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(job) });
      expect(done.state).toBe('COMPLETED');
    });

    it('leaves alone the jobs the lease no longer holds: completed, cancelled or held', async () => {
      const { storage, clock, returned } = openClocked();
      const lease = await storage.leaseStore.grant(10);
      for (let i = 0; i < 3; i++) await queued(storage);
      const completed = await claimOne(storage, lease.id);
      const cancelled = await claimOne(storage, lease.id);
      const held = await claimOne(storage, lease.id);
      await storage.jobStore.updateJobState(NODE, { jobId: completed.id, newState: 'COMPLETED', claim: proofOf(completed) });
      await storage.jobStore.updateJobState(NODE, { jobId: cancelled.id, newState: 'CANCELLED' });
      await storage.workQueues.holdJob(NODE, { jobId: held.id });
      const before = await Promise.all([completed, cancelled, held].map((job) => getJob(storage, job.id)));

      await expireLease(storage, clock, lease);
      expect(await Promise.all([completed, cancelled, held].map((job) => getJob(storage, job.id)))).toEqual(before);
      expect(returned).toEqual([{ leaseId: lease.id, nodeId: NODE, jobs: 0 }]);
    });
  });
});
