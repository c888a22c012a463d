import { describe, expect, it } from 'vitest';
import type { Job } from './job-model.js';
import { rejection } from './test-support/temp-storage.js';
import { NODE, T0, useWorkQueueFixture } from './test-support/work-queue-fixture.js';

describe('work queues: holds', () => {
  const { openClocked, queued, getJob, claim, drain, claimOne, proofOf, expireLease } = useWorkQueueFixture();

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
});
