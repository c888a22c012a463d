import { describe, expect, it } from 'vitest';
import type { CreateJobInput } from './job-store.js';
import { rejection } from './test-support/temp-storage.js';
import { NODE, useWorkQueueFixture } from './test-support/work-queue-fixture.js';

describe('work queues: claim fencing', () => {
  const { openClocked, queued, getJob, claim, drain, claimOne, proofOf, expireLease, expectConsistent } = useWorkQueueFixture();

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
});
