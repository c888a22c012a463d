import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Job } from './job-model.js';
import { rejection } from './test-support/temp-storage.js';
import { NODE, T0, useWorkQueueFixture } from './test-support/work-queue-fixture.js';

describe('work queues: ClaimJob', () => {
  const { openClocked, queued, getJob, claim, drain, claimOne, proofOf, expireLease, leaseClaimRows, expectConsistent } = useWorkQueueFixture();

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
