import fs from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import type { ClaimsReturned } from './claim-returner.js';
import type { Job } from './job-model.js';
import type { CreateJobInput } from './job-store.js';
import type { Storage } from './storage.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not true after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const NODE = 'requester-1';
const OTHER_NODE = 'requester-2';
const T0 = 1_700_000_000_000;

describe('work queues', () => {
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

  describe('ClaimJob', () => {
    it('hands out a QUEUED job as RUNNING with a claim of the lease, the worker and the claim revision as token', async () => {
      const { storage } = openClocked();
      const created = await queued(storage, { queue: 'ingest', priority: 5 });
      const lease = await storage.leaseStore.grant(60);

      const { job, queueHeld } = await claim(storage, lease.id, 'ingest', 'worker-7');
      expect(queueHeld).toBe(false);
      expect(job).toMatchObject({
        id: created.id,
        state: 'RUNNING',
        queue: 'ingest',
        retryCount: 0,
        retryTime: 0,
        claim: { leaseId: lease.id, token: job!.revision, worker: 'worker-7', claimTime: T0 },
      });
      expect(job!.revision).toBeGreaterThan(created.revision);
      expect(job!.stateMessage).toContain('worker-7');
      expect(job!.stateMessage).toContain(`lease ${lease.id}`);
      expect(await getJob(storage, created.id)).toEqual(job);

      const events = (await storage.jobStore.getJobHistory(NODE, { jobId: created.id })).items;
      expect(events.at(-1)).toMatchObject({ revision: job!.revision, type: 'JOB_STATE_CHANGED', previousState: 'QUEUED', newState: 'RUNNING' });
      expect(leaseClaimRows(storage)).toEqual([{ lease_id: lease.id, node_id: NODE }]);
      expect(await claim(storage, lease.id, 'ingest')).toEqual({ queueHeld: false });
    });

    it('hands out only QUEUED jobs of the named queue, the empty name being the default queue', async () => {
      const { storage } = openClocked();
      const lease = await storage.leaseStore.grant(60);
      await storage.jobStore.createJob(NODE, { state: 'PENDING', priority: 9 });
      await storage.jobStore.createJob(NODE, { state: 'HELD', priority: 9 });
      const other = await queued(storage, { queue: 'other', priority: 9 });
      const inDefault = await queued(storage, { priority: 1 });

      expect(await drain(storage, lease.id)).toEqual([inDefault.id]);
      expect(await drain(storage, lease.id, 'other')).toEqual([other.id]);
      expect(await drain(storage, lease.id, 'empty-queue')).toEqual([]);
      expect((await storage.jobStore.listJobs(NODE, { states: ['PENDING', 'HELD'] })).items).toHaveLength(2);
    });

    it('hands out the highest priority first and, among equal priorities, the oldest', async () => {
      const { storage, clock } = openClocked();
      const lease = await storage.leaseStore.grant(3600);
      // Created within the same millisecond and out of priority order: age is creation order, not time.
      const priorities = [0, 5, -3, 5, 0, 10, -3, 5, 2_147_483_647, -2_147_483_648];
      const jobs: Job[] = [];
      for (const priority of priorities) jobs.push(await queued(storage, { priority }));
      clock.now += 1;
      jobs.push(await queued(storage, { priority: 10 }));

      const expected = jobs
        .map((job, age) => ({ job, age }))
        .sort((a, b) => b.job.priority - a.job.priority || a.age - b.age)
        .map(({ job }) => job.id);
      expect(await drain(storage, lease.id)).toEqual(expected);
    });

    it('follows a change of priority or queue made by UpdateJob to a QUEUED job', async () => {
      const { storage } = openClocked();
      const lease = await storage.leaseStore.grant(60);
      const [a, b, c] = [await queued(storage, { priority: 5 }), await queued(storage, { priority: 5 }), await queued(storage, { priority: 5 })];
      await storage.jobStore.updateJob(NODE, { jobId: c!.id, changes: { priority: 6 } });
      await storage.jobStore.updateJob(NODE, { jobId: a!.id, changes: { queue: 'elsewhere' } });
      expect(await drain(storage, lease.id)).toEqual([c!.id, b!.id]);
      expect(await drain(storage, lease.id, 'elsewhere')).toEqual([a!.id]);
    });

    it('lets 20 concurrent claimers drain 500 jobs, handing every job out exactly once', async () => {
      const { storage } = openClocked();
      const jobs = Array.from({ length: 500 }, (_, index) => ({ state: 'QUEUED' as const, queue: 'work', priority: index % 7 }));
      const { batch, jobIds } = await storage.batches.createBatch(NODE, { jobs });

      const claimers = Array.from({ length: 20 }, async (_, claimer) => {
        const lease = await storage.leaseStore.grant(60);
        const mine: Job[] = [];
        for (;;) {
          const { job } = await claim(storage, lease.id, 'work', `claimer-${claimer}`);
          if (job === undefined) return mine;
          mine.push(job);
          await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(job) });
        }
      });
      const handedOut = (await Promise.all(claimers)).flat();

      const handedOutIds = handedOut.map((job) => job.id);
      expect(handedOutIds).toHaveLength(500);
      expect(new Set(handedOutIds).size).toBe(500);
      expect([...handedOutIds].sort()).toEqual([...jobIds].sort());
      // Claim tokens are commit revisions: across all claimers, the claims still followed queue order.
      const inClaimOrder = [...handedOut].sort((a, b) => a.claim!.token - b.claim!.token).map((job) => job.id);
      const queueOrder = jobIds
        .map((id, age) => ({ id, age, priority: jobs[age]!.priority }))
        .sort((a, b) => b.priority - a.priority || a.age - b.age)
        .map(({ id }) => id);
      expect(inClaimOrder).toEqual(queueOrder);
      expect((await storage.batches.getBatch(NODE, batch.id)).counts).toEqual({ COMPLETED: 500 });
      expectConsistent(storage);
    });

    it('skips a job waiting out its backoff, handing out the jobs behind it', async () => {
      const { storage, clock } = openClocked();
      const urgent = await queued(storage, { priority: 10 });
      const later = await queued(storage, { priority: 1 });
      const lease = await storage.leaseStore.grant(3600);
      const first = await claimOne(storage, lease.id);
      expect(first.id).toBe(urgent.id);
      const givenBack = await storage.jobStore.updateJobState(NODE, { jobId: urgent.id, newState: 'QUEUED', claim: proofOf(first) });
      expect(givenBack.retryTime).toBe(clock.now + 1000);

      expect((await claimOne(storage, lease.id)).id).toBe(later.id);
      expect(await claim(storage, lease.id)).toEqual({ queueHeld: false });
      clock.now = givenBack.retryTime;
      expect((await claimOne(storage, lease.id)).id).toBe(urgent.id);
    });

    it('hands out jobs whose backoffs end at different times in queue order once each has ended, held ones included', async () => {
      const { storage, clock } = openClocked();
      const lease = await storage.leaseStore.grant(3600);
      // 30 jobs of three priorities, each given back once with backoffs of 100 to 3,000 ms.
      const jobs: Job[] = [];
      for (let i = 0; i < 30; i++) jobs.push(await queued(storage, { priority: i % 3, retryPolicy: { backoffMs: 100 * (30 - i) } }));
      for (let i = 0; i < 30; i++) {
        const claimed = await claimOne(storage, lease.id);
        await storage.jobStore.updateJobState(NODE, { jobId: claimed.id, newState: 'QUEUED', claim: proofOf(claimed) });
      }
      // Held while waiting, released before its backoff ends: it still waits for it.
      const held = jobs[0]!;
      await storage.workQueues.holdJob(NODE, { jobId: held.id });
      await storage.workQueues.releaseJob(NODE, { jobId: held.id });
      const ready = await queued(storage, { priority: -1 });
      expect((await claimOne(storage, lease.id)).id).toBe(ready.id);
      expect(await claim(storage, lease.id)).toEqual({ queueHeld: false });

      // Half-way, the jobs with the shorter backoffs (the younger half) are ready, in queue order.
      clock.now += 1500;
      const byQueueOrder = (a: Job, b: Job) => b.priority - a.priority || jobs.indexOf(a) - jobs.indexOf(b);
      expect(await drain(storage, lease.id)).toEqual(jobs.slice(15).sort(byQueueOrder).map((job) => job.id));
      clock.now += 1500;
      expect(await drain(storage, lease.id)).toEqual(jobs.slice(0, 15).sort(byQueueOrder).map((job) => job.id));
    });
  });

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
      await eventually(async () => (await getJob(storage, job.id)).state === 'QUEUED');
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

  describe('claim fencing of UpdateJobState', () => {
    /** A store with one job claimed under a live lease. */
    async function claimedJob(retryPolicy?: CreateJobInput['retryPolicy']) {
      const opened = openClocked();
      const { storage } = opened;
      await queued(storage, { queue: 'stage-1', retryPolicy });
      const lease = await storage.leaseStore.grant(60);
      const job = await claimOne(storage, lease.id, 'stage-1');
      return { ...opened, lease, job };
    }

    it('refuses to complete, fail or give back a claimed job without its claim (FAILED_PRECONDITION), changing nothing', async () => {
      const { storage, job } = await claimedJob();
      for (const newState of ['COMPLETED', 'FAILED', 'QUEUED'] as const) {
        const message = await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState }), 'FAILED_PRECONDITION');
        expect(message).toContain(`lease ${job.claim!.leaseId}`);
      }
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', nextQueue: 'stage-2' }), 'FAILED_PRECONDITION');
      expect(await getJob(storage, job.id)).toEqual(job);
    });

    it('refuses a claim with the wrong token or the wrong lease (ABORTED), changing nothing', async () => {
      const { storage, job } = await claimedJob();
      const other = await storage.leaseStore.grant(60);
      const wrongClaims = [
        { leaseId: job.claim!.leaseId, token: job.claim!.token + 1 },
        { leaseId: job.claim!.leaseId, token: job.claim!.token - 1 },
        { leaseId: other.id, token: job.claim!.token },
      ];
      for (const wrong of wrongClaims) {
        for (const newState of ['COMPLETED', 'FAILED', 'QUEUED'] as const) {
          await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState, claim: wrong }), 'ABORTED');
        }
      }
      expect(await getJob(storage, job.id)).toEqual(job);
    });

    it('refuses the claim once its lease has expired, even before the job was returned (ABORTED)', async () => {
      const { storage, clock, lease, job } = await claimedJob();
      clock.now = lease.expireTime;
      for (const newState of ['COMPLETED', 'FAILED', 'QUEUED'] as const) {
        await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState, claim: proofOf(job) }), 'ABORTED');
      }
      expect(await getJob(storage, job.id)).toEqual(job);
    });

    it('refuses the claim of a revoked lease, before and after its job went back to the queue (ABORTED)', async () => {
      const { storage, lease, job } = await claimedJob();
      await storage.leaseStore.revoke(lease.id);
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'FAILED', claim: proofOf(job) }), 'ABORTED');
      await storage.claims.returnOrphanedClaims();
      const returned = await getJob(storage, job.id);
      expect(returned.state).toBe('QUEUED');
      // The claimer lost the job: whatever it asks for, the answer is that its claim is gone.
      for (const newState of ['COMPLETED', 'FAILED', 'QUEUED'] as const) {
        await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState, claim: proofOf(job) }), 'ABORTED');
      }
      expect(await getJob(storage, job.id)).toEqual(returned);
    });

    it('tells a stale claimer ABORTED even when it also expects the revision its claim had', async () => {
      const { storage, clock } = openClocked();
      await queued(storage);
      const dying = await storage.leaseStore.grant(2);
      const claimed = await claimOne(storage, dying.id);
      await expireLease(storage, clock, dying);
      expect(
        await rejection(
          storage.jobStore.updateJobState(NODE, { jobId: claimed.id, newState: 'COMPLETED', claim: proofOf(claimed), expectedRevision: claimed.revision }),
          'ABORTED',
        ),
      ).toContain('no longer claimed');
    });

    it('refuses a next_queue that is the job\'s own queue (FAILED_PRECONDITION): that would reset its retries', async () => {
      const { storage } = openClocked();
      await queued(storage, { queue: 'stage-1' });
      const lease = await storage.leaseStore.grant(60);
      const claimed = await claimOne(storage, lease.id, 'stage-1');
      expect(
        await rejection(storage.jobStore.updateJobState(NODE, { jobId: claimed.id, newState: 'QUEUED', nextQueue: 'stage-1', claim: proofOf(claimed) }), 'FAILED_PRECONDITION'),
      ).toContain('already in queue');
    });

    it('refuses the old claim once another claimer took the job again (ABORTED)', async () => {
      const { storage, clock, lease, job } = await claimedJob();
      await expireLease(storage, clock, lease);
      clock.now = (await getJob(storage, job.id)).retryTime;
      const next = await storage.leaseStore.grant(60);
      const retaken = await claimOne(storage, next.id, 'stage-1');
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(job) }), 'ABORTED');
      expect(await getJob(storage, job.id)).toEqual(retaken);
      const done = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(retaken) });
      expect(done.state).toBe('COMPLETED');
    });

    it('lets anyone cancel a claimed job without the claim, which ends the claim', async () => {
      const { storage, job } = await claimedJob();
      const cancelled = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'CANCELLED', message: 'operator' });
      expect(cancelled).toMatchObject({ state: 'CANCELLED', stateMessage: 'operator', claim: undefined });
    });

    it('lets anyone hold a claimed job without the claim, by HoldJob or UpdateJobState, which ends the claim', async () => {
      const { storage, lease, job } = await claimedJob();
      const held = await storage.workQueues.holdJob(NODE, { jobId: job.id, message: 'inspect' });
      expect(held).toMatchObject({ state: 'HELD', stateMessage: 'inspect', claim: undefined });

      await queued(storage, { queue: 'stage-1' });
      const second = await claimOne(storage, lease.id, 'stage-1');
      const heldByState = await storage.jobStore.updateJobState(NODE, { jobId: second.id, newState: 'HELD' });
      expect(heldByState).toMatchObject({ state: 'HELD', claim: undefined });
      // Released, each waits in its queue again rather than running with nobody holding it.
      for (const jobId of [job.id, second.id]) expect((await storage.workQueues.releaseJob(NODE, { jobId })).state).toBe('QUEUED');
      expect(await drain(storage, lease.id, 'stage-1')).toEqual([job.id, second.id]);
    });

    it('completes a claimed job with its claim, recording its queue as the last successful one', async () => {
      const { storage, job, clock } = await claimedJob();
      clock.now += 5;
      const done = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', message: 'ok', claim: proofOf(job) });
      expect(done).toMatchObject({ state: 'COMPLETED', stateMessage: 'ok', queue: 'stage-1', lastSuccessfulQueue: 'stage-1', claim: undefined, modifyTime: clock.now });
    });

    it('fails a claimed job with its claim, and the job stays failed', async () => {
      const { storage, job } = await claimedJob();
      const failed = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'FAILED', message: 'crashed', claim: proofOf(job) });
      expect(failed).toMatchObject({ state: 'FAILED', stateMessage: 'crashed', lastSuccessfulQueue: '', claim: undefined });
    });

    it('moves a job through pipeline stages with next_queue: new queue, retry count 0, the old queue as last successful', async () => {
      const { storage, clock, lease, job } = await claimedJob({ maxRetries: 5, backoffMs: 100 });
      // A retry first, so that the move to the next stage visibly resets the count.
      const retried = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', claim: proofOf(job) });
      expect(retried.retryCount).toBe(1);
      clock.now = retried.retryTime;
      const again = await claimOne(storage, lease.id, 'stage-1');

      const atStage2 = await storage.jobStore.updateJobState(NODE, {
        jobId: job.id,
        newState: 'QUEUED',
        nextQueue: 'stage-2',
        message: 'parsed',
        claim: proofOf(again),
      });
      expect(atStage2).toMatchObject({
        state: 'QUEUED',
        queue: 'stage-2',
        retryCount: 0,
        retryTime: 0,
        lastSuccessfulQueue: 'stage-1',
        stateMessage: 'parsed',
        claim: undefined,
      });
      expect(await claim(storage, lease.id, 'stage-1')).toEqual({ queueHeld: false });

      const running2 = await claimOne(storage, lease.id, 'stage-2');
      const atStage3 = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', nextQueue: 'stage-3', claim: proofOf(running2) });
      expect(atStage3).toMatchObject({ queue: 'stage-3', lastSuccessfulQueue: 'stage-2' });
      const running3 = await claimOne(storage, lease.id, 'stage-3');
      const done = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(running3) });
      expect(done).toMatchObject({ state: 'COMPLETED', queue: 'stage-3', lastSuccessfulQueue: 'stage-3' });
      expectConsistent(storage);
    });

    it('treats giving a claimed job back without next_queue as a retry with backoff, FAILING it once out of retries', async () => {
      const { storage, clock, lease, job } = await claimedJob({ maxRetries: 2, backoffMs: 1000, maxBackoffMs: 1500 });
      const first = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', message: 'busy', claim: proofOf(job) });
      expect(first).toMatchObject({ state: 'QUEUED', queue: 'stage-1', retryCount: 1, retryTime: clock.now + 1000, lastSuccessfulQueue: '', claim: undefined });
      expect(first.stateMessage).toContain('busy');

      clock.now = first.retryTime;
      const second = await claimOne(storage, lease.id, 'stage-1');
      const back = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', claim: proofOf(second) });
      expect(back).toMatchObject({ retryCount: 2, retryTime: clock.now + 1500 });

      clock.now = back.retryTime;
      const third = await claimOne(storage, lease.id, 'stage-1');
      const failed = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', claim: proofOf(third) });
      expect(failed).toMatchObject({ state: 'FAILED', retryCount: 2, claim: undefined });
      expect(failed.stateMessage).toMatch(/out of retries/);
    });

    it('retries at once, however many times, a job whose backoff is 0', async () => {
      const { storage, clock, lease, job } = await claimedJob({ maxRetries: 1100, backoffMs: 0 });
      let running = job;
      for (let retry = 1; retry <= 1100; retry++) {
        const back = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', claim: proofOf(running) });
        expect(back.retryTime).toBe(clock.now);
        running = await claimOne(storage, lease.id, 'stage-1');
      }
      expect(running.retryCount).toBe(1100);
      const failed = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', claim: proofOf(running) });
      expect(failed.state).toBe('FAILED');
    });

    it('keeps the claim valid across an UpdateJob of the claimed job', async () => {
      const { storage, job } = await claimedJob();
      const updated = await storage.jobStore.updateJob(NODE, { jobId: job.id, changes: { priority: 7, labels: { x: 'y' } } });
      expect(updated.claim).toEqual(job.claim);
      const done = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: proofOf(job) });
      expect(done.state).toBe('COMPLETED');
    });

    it('refuses next_queue with a new state other than QUEUED (INVALID_ARGUMENT), changing nothing', async () => {
      const { storage, job } = await claimedJob();
      for (const newState of ['COMPLETED', 'FAILED', 'HELD', 'CANCELLED', 'RUNNING'] as const) {
        const message = await rejection(
          storage.jobStore.updateJobState(NODE, { jobId: job.id, newState, nextQueue: 'stage-2', claim: proofOf(job) }),
          'INVALID_ARGUMENT',
        );
        expect(message).toContain('next_queue');
      }
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', nextQueue: 'not a queue', claim: proofOf(job) }), 'INVALID_ARGUMENT');
      expect(await getJob(storage, job.id)).toEqual(job);
    });

    it('refuses next_queue for a job that is not RUNNING (FAILED_PRECONDITION)', async () => {
      const { storage } = openClocked();
      const pending = (await storage.jobStore.createJob(NODE, { queue: 'stage-1' })).job;
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: pending.id, newState: 'QUEUED', nextQueue: 'stage-2' }), 'FAILED_PRECONDITION');
      expect(await getJob(storage, pending.id)).toEqual(pending);
    });
  });

  describe('holds', () => {
    it('hands out nothing from a held queue, and everything in the original order once it is released', async () => {
      const { storage } = openClocked();
      const lease = await storage.leaseStore.grant(60);
      const jobs: Job[] = [];
      for (const priority of [1, 3, 2, 3]) jobs.push(await queued(storage, { queue: 'ingest', priority }));
      const elsewhere = await queued(storage, { queue: 'other' });

      const hold = await storage.workQueues.holdQueue(NODE, { queue: 'ingest', message: 'maintenance' });
      expect(hold).toEqual({ queue: 'ingest', message: 'maintenance', holdTime: T0 });
      expect(await claim(storage, lease.id, 'ingest')).toEqual({ queueHeld: true });
      expect(await claim(storage, lease.id, 'ingest')).toEqual({ queueHeld: true });
      expect((await claimOne(storage, lease.id, 'other')).id).toBe(elsewhere.id);
      const stillQueued = await storage.jobStore.listJobs(NODE, { queue: 'ingest', states: ['QUEUED'] });
      expect(stillQueued.items).toHaveLength(4);

      expect(await storage.workQueues.releaseQueue(NODE, 'ingest')).toBe(true);
      expect(await drain(storage, lease.id, 'ingest')).toEqual([jobs[1]!.id, jobs[3]!.id, jobs[2]!.id, jobs[0]!.id]);
    });

    it('keeps the first hold of a queue when it is held twice; releasing a queue that is not held returns false', async () => {
      const { storage, clock } = openClocked();
      await storage.jobStore.createJob(NODE, {});
      const first = await storage.workQueues.holdQueue(NODE, { queue: 'q', message: 'first' });
      clock.now += 1000;
      expect(await storage.workQueues.holdQueue(NODE, { queue: 'q', message: 'second' })).toEqual(first);
      expect(await storage.workQueues.releaseQueue(NODE, 'q')).toBe(true);
      expect(await storage.workQueues.releaseQueue(NODE, 'q')).toBe(false);
      expect(await storage.workQueues.releaseQueue(NODE, 'never-held')).toBe(false);
    });

    it('holds a queue of a node that has no database yet, creating it, so that its first jobs wait', async () => {
      const { storage } = openClocked();
      await storage.workQueues.holdQueue('fresh-node', { queue: 'ingest', message: 'not before the upgrade' });
      await storage.jobStore.createJob('fresh-node', { state: 'QUEUED', queue: 'ingest' });
      const lease = await storage.leaseStore.grant(60);
      expect(await claim(storage, lease.id, 'ingest', undefined, 'fresh-node')).toEqual({ queueHeld: true });
      expect(await rejection(storage.workQueues.releaseQueue('other-node', 'ingest'), 'NOT_FOUND')).toContain('other-node');
    });

    it('holds the default queue when given the empty queue name', async () => {
      const { storage } = openClocked();
      await queued(storage);
      const lease = await storage.leaseStore.grant(60);
      await storage.workQueues.holdQueue(NODE, { queue: '' });
      expect(await claim(storage, lease.id)).toEqual({ queueHeld: true });
      await storage.workQueues.releaseQueue(NODE, '');
      expect((await claim(storage, lease.id)).job?.state).toBe('RUNNING');
    });

    it('lists queue holds by queue name in keyset pages', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, {});
      for (const queue of ['delta', '', 'alpha', 'echo', 'charlie', 'bravo']) await storage.workQueues.holdQueue(NODE, { queue, message: `hold ${queue}` });
      const pages: string[][] = [];
      let pageToken: string | undefined;
      do {
        const page = await storage.workQueues.listQueueHolds(NODE, { pageSize: 2, pageToken });
        pages.push(page.items.map((hold) => hold.queue));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      expect(pages).toEqual([
        ['', 'alpha'],
        ['bravo', 'charlie'],
        ['delta', 'echo'],
      ]);
      const all = await storage.workQueues.listQueueHolds(NODE, {});
      expect(all.items[1]).toEqual({ queue: 'alpha', message: 'hold alpha', holdTime: T0 });
      expect(all.nextPageToken).toBe('');
      await rejection(storage.workQueues.listQueueHolds(NODE, { pageSize: 1001 }), 'INVALID_ARGUMENT');
    });

    it('keeps the place in its queue of a QUEUED job that was held and released', async () => {
      const { storage } = openClocked();
      const lease = await storage.leaseStore.grant(60);
      const [a, b, c] = [await queued(storage), await queued(storage), await queued(storage)];
      const held = await storage.workQueues.holdJob(NODE, { jobId: b!.id, message: 'wait' });
      expect(held).toMatchObject({ state: 'HELD', stateMessage: 'wait' });
      expect((await claimOne(storage, lease.id)).id).toBe(a!.id);

      const released = await storage.workQueues.releaseJob(NODE, { jobId: b!.id, message: 'go' });
      expect(released).toMatchObject({ state: 'QUEUED', stateMessage: 'go', retryCount: 0 });
      expect(await drain(storage, lease.id)).toEqual([b!.id, c!.id]);
    });

    it('takes the claim away from a RUNNING job that is held; released, it waits in its queue and the old lease cannot touch it', async () => {
      const { storage, clock } = openClocked();
      const created = await queued(storage, { queue: 'q' });
      const lease = await storage.leaseStore.grant(10);
      const running = await claimOne(storage, lease.id, 'q');

      const held = await storage.workQueues.holdJob(NODE, { jobId: created.id });
      expect(held).toMatchObject({ state: 'HELD', claim: undefined });
      await rejection(storage.jobStore.updateJobState(NODE, { jobId: created.id, newState: 'FAILED', claim: proofOf(running) }), 'ABORTED');

      const released = await storage.workQueues.releaseJob(NODE, { jobId: created.id });
      expect(released).toMatchObject({ state: 'QUEUED', queue: 'q', retryCount: 0, claim: undefined });
      await expireLease(storage, clock, lease);
      expect(await getJob(storage, created.id)).toEqual(released);

      const next = await storage.leaseStore.grant(60);
      expect((await claimOne(storage, next.id, 'q')).id).toBe(created.id);
    });

    it('releases a held PENDING job to PENDING, and a job created HELD to QUEUED', async () => {
      const { storage } = openClocked();
      const pending = (await storage.jobStore.createJob(NODE, {})).job;
      await storage.workQueues.holdJob(NODE, { jobId: pending.id });
      expect((await storage.workQueues.releaseJob(NODE, { jobId: pending.id })).state).toBe('PENDING');
      const createdHeld = (await storage.jobStore.createJob(NODE, { state: 'HELD' })).job;
      expect((await storage.workQueues.releaseJob(NODE, { jobId: createdHeld.id })).state).toBe('QUEUED');
    });

    it('changes nothing when holding a HELD job; refuses to release a job that is not HELD (FAILED_PRECONDITION)', async () => {
      const { storage } = openClocked();
      const job = await queued(storage);
      const held = await storage.workQueues.holdJob(NODE, { jobId: job.id });
      expect(await storage.workQueues.holdJob(NODE, { jobId: job.id, message: 'again' })).toEqual(held);
      await storage.workQueues.releaseJob(NODE, { jobId: job.id });
      const queuedAgain = await getJob(storage, job.id);
      expect(await rejection(storage.workQueues.releaseJob(NODE, { jobId: job.id }), 'FAILED_PRECONDITION')).toContain('not HELD');
      expect(await getJob(storage, job.id)).toEqual(queuedAgain);
    });

    it('refuses to hold a terminal job, a job at another revision, or an unknown job', async () => {
      const { storage } = openClocked();
      const job = await queued(storage);
      await rejection(storage.workQueues.holdJob(NODE, { jobId: job.id, expectedRevision: job.revision + 1 }), 'FAILED_PRECONDITION');
      await rejection(storage.workQueues.holdJob(NODE, { jobId: 'no-such-job' }), 'NOT_FOUND');
      const cancelled = await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'CANCELLED' });
      await rejection(storage.workQueues.holdJob(NODE, { jobId: job.id }), 'FAILED_PRECONDITION');
      expect(await getJob(storage, job.id)).toEqual(cancelled);
    });
  });

  describe('bad claims', () => {
    it('refuses a claim under an unknown, revoked or expired lease (NOT_FOUND), changing nothing', async () => {
      const { storage, clock } = openClocked();
      const job = await queued(storage);
      const revoked = await storage.leaseStore.grant(60);
      await storage.leaseStore.revoke(revoked.id);
      const expired = await storage.leaseStore.grant(2);
      clock.now = expired.expireTime;

      for (const leaseId of [revoked.id, expired.id, 999]) {
        expect(await rejection(claim(storage, leaseId), 'NOT_FOUND')).toContain(`lease ${leaseId}`);
      }
      expect(await getJob(storage, job.id)).toEqual(job);
      expect(leaseClaimRows(storage)).toEqual([]);
    });

    it('hands out nothing on a node that has no database yet, creating no file; an ended lease is still NOT_FOUND there', async () => {
      const { storage } = openClocked();
      const lease = await storage.leaseStore.grant(60);
      expect(await claim(storage, lease.id, '', undefined, 'no-such-node')).toEqual({ queueHeld: false });
      await storage.leaseStore.revoke(lease.id);
      expect(await rejection(claim(storage, lease.id, '', undefined, 'no-such-node'), 'NOT_FOUND')).toContain(`lease ${lease.id}`);
      expect(fs.existsSync(storage.locations.nodeDatabasePath('requester', 'no-such-node'))).toBe(false);
      expect(leaseClaimRows(storage)).toEqual([]);
    });

    it('refuses bad input (INVALID_ARGUMENT) and changes nothing', async () => {
      const { storage } = openClocked();
      const job = await queued(storage);
      const lease = await storage.leaseStore.grant(60);
      const bad = [
        { queue: '', leaseId: 0 },
        { queue: '', leaseId: -1 },
        { queue: '', leaseId: 1.5 },
        { queue: 'no spaces', leaseId: lease.id },
        { queue: '../escape', leaseId: lease.id },
        { queue: '', leaseId: lease.id, worker: 'w'.repeat(257) },
      ];
      for (const input of bad) await rejection(storage.workQueues.claimJob(NODE, input), 'INVALID_ARGUMENT');
      await rejection(storage.workQueues.claimJob('../node', { queue: '', leaseId: lease.id }), 'INVALID_ARGUMENT');
      expect(await getJob(storage, job.id)).toEqual(job);
      expect(leaseClaimRows(storage)).toEqual([]);

      const longest = await claimOne(storage, lease.id, '', 'w'.repeat(256));
      expect(longest.claim?.worker).toHaveLength(256);
    });

    it('refuses bad hold input (INVALID_ARGUMENT)', async () => {
      const { storage } = openClocked();
      const job = await queued(storage);
      await rejection(storage.workQueues.holdJob(NODE, { jobId: '' }), 'INVALID_ARGUMENT');
      await rejection(storage.workQueues.holdJob(NODE, { jobId: job.id, message: 'm'.repeat(4097) }), 'INVALID_ARGUMENT');
      await rejection(storage.workQueues.holdQueue(NODE, { queue: 'bad queue' }), 'INVALID_ARGUMENT');
      await rejection(storage.workQueues.releaseQueue(NODE, 'bad queue'), 'INVALID_ARGUMENT');
      expect(await getJob(storage, job.id)).toEqual(job);
      expect((await storage.workQueues.listQueueHolds(NODE, {})).items).toEqual([]);
    });
  });

  it('leaves a requester database that passes the consistency check after claims, retries, holds and stages', async () => {
    const { storage, clock } = openClocked();
    const { jobIds } = await storage.batches.createBatch(NODE, {
      jobs: Array.from({ length: 60 }, (_, index) => ({ state: 'QUEUED' as const, queue: 'a', priority: index % 4, retryPolicy: { maxRetries: 1, backoffMs: 10 } })),
    });
    const dying = await storage.leaseStore.grant(2);
    const living = await storage.leaseStore.grant(3600);
    for (let i = 0; i < 10; i++) await claimOne(storage, dying.id, 'a');
    for (let i = 0; i < 20; i++) {
      const job = await claimOne(storage, living.id, 'a');
      if (i % 2 === 0) await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', nextQueue: 'b', claim: proofOf(job) });
      else await storage.workQueues.holdJob(NODE, { jobId: job.id });
    }
    await storage.workQueues.holdJob(NODE, { jobId: jobIds[59]! });
    await expireLease(storage, clock, dying);
    clock.now += 1000;
    const next = await storage.leaseStore.grant(3600);
    await drain(storage, next.id, 'a');
    await drain(storage, next.id, 'b');
    expectConsistent(storage);
  });
});
