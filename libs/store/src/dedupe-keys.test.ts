import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import type { Job, JobState } from './job-model.js';
import type { OnDuplicate } from './job-store.js';
import type { Storage } from './storage.js';
import { allJobs, NODE, useClockedStorage } from './test-support/clocked-requester.js';
import { rejection } from './test-support/temp-storage.js';

describe('dedupe keys', () => {
  const openClocked = useClockedStorage();

  const historyHead = async (storage: Storage) => (await storage.jobStore.getJobHistory(NODE, { pageSize: 1000 })).items.length;

  /** A fresh job with the key, moved to `state` by the shortest legal path; its queue is its own. */
  async function jobIn(storage: Storage, state: JobState, dedupeKey: string): Promise<Job> {
    const queue = `q-${dedupeKey}`;
    const { job } = await storage.jobStore.createJob(NODE, { dedupeKey, queue, state: state === 'HELD' ? 'HELD' : 'QUEUED' });
    if (state === 'QUEUED' || state === 'HELD') return job;
    if (state === 'PENDING' || state === 'FAILED' || state === 'CANCELLED') {
      return storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: state });
    }
    const lease = await storage.leaseStore.grant(60);
    const claimed = (await storage.workQueues.claimJob(NODE, { queue, leaseId: lease.id })).job!;
    expect(claimed.id).toBe(job.id);
    if (state === 'RUNNING') return claimed;
    return storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: state, claim: { leaseId: lease.id, token: claimed.claim!.token } });
  }

  describe('CreateJob', () => {
    it('refuses a second live job with the same key (ALREADY_EXISTS, the default), naming the live job, creating nothing', async () => {
      const { storage } = openClocked();
      const { job: first, existing } = await storage.jobStore.createJob(NODE, { dedupeKey: 'order-42', state: 'QUEUED' });
      expect(existing).toBe(false);
      expect(first.dedupeKey).toBe('order-42');
      const events = await historyHead(storage);

      for (const onDuplicate of [undefined, 'fail'] as const) {
        const message = await rejection(storage.jobStore.createJob(NODE, { dedupeKey: 'order-42', name: 'twin', onDuplicate }), 'ALREADY_EXISTS');
        expect(message).toContain(first.id);
        expect(message).toContain('order-42');
      }
      expect(await allJobs(storage)).toEqual([first]);
      expect(await historyHead(storage)).toBe(events);
    });

    it('returns the live job with existing: true when asked to, creating nothing', async () => {
      const { storage, clock } = openClocked();
      const { job: first } = await storage.jobStore.createJob(NODE, { dedupeKey: 'order-42', priority: 3 });
      const live = await storage.jobStore.updateJobState(NODE, { jobId: first.id, newState: 'QUEUED' });
      const events = await historyHead(storage);
      clock.now += 1000;

      const again = await storage.jobStore.createJob(NODE, { dedupeKey: 'order-42', onDuplicate: 'returnExisting', priority: 9, name: 'ignored' });
      expect(again).toEqual({ job: live, existing: true });
      expect(await allJobs(storage)).toEqual([live]);
      expect(await historyHead(storage)).toBe(events);
    });

    it('treats a job as live in every non-terminal state: PENDING, QUEUED, RUNNING and HELD', async () => {
      const { storage } = openClocked();
      for (const state of ['PENDING', 'QUEUED', 'RUNNING', 'HELD'] as const) {
        const live = await jobIn(storage, state, `key-${state}`);
        expect(live.state).toBe(state);
        await rejection(storage.jobStore.createJob(NODE, { dedupeKey: `key-${state}` }), 'ALREADY_EXISTS');
        const returned = await storage.jobStore.createJob(NODE, { dedupeKey: `key-${state}`, onDuplicate: 'returnExisting' });
        expect(returned).toEqual({ job: live, existing: true });
      }
      expect(await allJobs(storage)).toHaveLength(4);
    });

    it('frees the key once its job is COMPLETED, FAILED or CANCELLED', async () => {
      const { storage } = openClocked();
      for (const state of ['COMPLETED', 'FAILED', 'CANCELLED'] as const) {
        const ended = await jobIn(storage, state, `key-${state}`);
        expect(ended.state).toBe(state);
        for (const onDuplicate of ['fail', 'returnExisting'] as const) {
          const next = await storage.jobStore.createJob(NODE, { dedupeKey: `key-${state}`, onDuplicate });
          expect(next.existing).toBe(false);
          expect(next.job.id).not.toBe(ended.id);
          expect(next.job.dedupeKey).toBe(`key-${state}`);
          // The new job holds the key now, until it ends too.
          await storage.jobStore.updateJobState(NODE, { jobId: next.job.id, newState: 'CANCELLED' });
        }
      }
      expect(await allJobs(storage)).toHaveLength(9);
      expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', NODE))).toEqual([]);
    });

    it('frees the key when the lease of its claimer ends and the job fails out of retries', async () => {
      const { storage, clock } = openClocked();
      const { job } = await storage.jobStore.createJob(NODE, { dedupeKey: 'k', state: 'QUEUED', retryPolicy: { maxRetries: 0 } });
      const lease = await storage.leaseStore.grant(2);
      await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id });
      clock.now = lease.expireTime;
      await storage.leaseStore.expireDue();
      await storage.claims.returnOrphanedClaims();
      expect((await storage.jobStore.getJob(NODE, { id: job.id })).state).toBe('FAILED');
      expect((await storage.jobStore.createJob(NODE, { dedupeKey: 'k' })).existing).toBe(false);
    });

    it('creates one job when creates with the same key arrive concurrently', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, {});
      const failing = await Promise.allSettled(Array.from({ length: 10 }, () => storage.jobStore.createJob(NODE, { dedupeKey: 'race' })));
      expect(failing.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const returning = await Promise.all(
        Array.from({ length: 10 }, () => storage.jobStore.createJob(NODE, { dedupeKey: 'race', onDuplicate: 'returnExisting' })),
      );
      const winner = (failing.find((result) => result.status === 'fulfilled') as PromiseFulfilledResult<{ job: Job }>).value.job;
      expect(returning.every((created) => created.existing && created.job.id === winner.id)).toBe(true);
      expect((await allJobs(storage)).filter((job) => job.dedupeKey === 'race')).toHaveLength(1);
    });

    it('keeps keys per namespace', async () => {
      const { storage } = openClocked();
      const inA = (await storage.jobStore.createJob(NODE, { namespace: 'team-a', dedupeKey: 'shared' })).job;
      const inB = (await storage.jobStore.createJob(NODE, { namespace: 'team-b', dedupeKey: 'shared' })).job;
      const inDefault = (await storage.jobStore.createJob(NODE, { dedupeKey: 'shared' })).job;
      expect(new Set([inA.id, inB.id, inDefault.id]).size).toBe(3);
      const again = await storage.jobStore.createJob(NODE, { namespace: 'team-b', dedupeKey: 'shared', onDuplicate: 'returnExisting' });
      expect(again).toEqual({ job: inB, existing: true });
      expect(await rejection(storage.jobStore.createJob(NODE, { namespace: 'team-a', dedupeKey: 'shared' }), 'ALREADY_EXISTS')).toContain(inA.id);
    });

    it('never collides jobs without a key, and compares keys exactly', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, {});
      await storage.jobStore.createJob(NODE, { dedupeKey: '' });
      await storage.jobStore.createJob(NODE, { dedupeKey: 'Key' });
      await storage.jobStore.createJob(NODE, { dedupeKey: 'key' });
      await storage.jobStore.createJob(NODE, { dedupeKey: 'key ' });
      await storage.jobStore.createJob(NODE, { dedupeKey: 'any text: ünïcode / spaces' });
      expect(await allJobs(storage)).toHaveLength(6);
      expect((await allJobs(storage)).filter((job) => job.dedupeKey === '')).toHaveLength(2);
    });

    it('returns the first job when a create with a key is retried with its request_id', async () => {
      const { storage } = openClocked();
      const first = await storage.jobStore.createJob(NODE, { dedupeKey: 'k', requestId: 'req-1' });
      for (const onDuplicate of ['fail', 'returnExisting'] as const) {
        expect(await storage.jobStore.createJob(NODE, { dedupeKey: 'k', requestId: 'req-1', onDuplicate })).toEqual(first);
      }
      expect(await allJobs(storage)).toHaveLength(1);
    });

    it('refuses a key longer than 256 characters and an unknown on_duplicate (INVALID_ARGUMENT)', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, { dedupeKey: 'k'.repeat(256) });
      await rejection(storage.jobStore.createJob(NODE, { dedupeKey: 'k'.repeat(257) }), 'INVALID_ARGUMENT');
      await rejection(storage.jobStore.createJob(NODE, { dedupeKey: 'x', onDuplicate: 'sometimes' as OnDuplicate }), 'INVALID_ARGUMENT');
      expect(await allJobs(storage)).toHaveLength(1);
    });
  });

  describe('CreateBatch', () => {
    it('fails the whole batch on a key repeated inside it (the default), creating no batch and no job', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, { id: 'unrelated' });
      for (const onDuplicate of [undefined, 'fail'] as const) {
        const message = await rejection(
          storage.batches.createBatch(NODE, { id: 'b1', onDuplicate, jobs: [{ dedupeKey: 'a' }, { dedupeKey: 'b' }, { dedupeKey: 'a' }] }),
          'ALREADY_EXISTS',
        );
        expect(message).toContain('"a"');
      }
      await rejection(storage.batches.getBatch(NODE, 'b1'), 'NOT_FOUND');
      expect((await allJobs(storage)).map((job) => job.id)).toEqual(['unrelated']);
    });

    it('fails the whole batch on a key of a live job outside it, unless asked to return the live job', async () => {
      const { storage } = openClocked();
      const outside = (await storage.jobStore.createJob(NODE, { dedupeKey: 'a' })).job;
      const message = await rejection(storage.batches.createBatch(NODE, { id: 'b1', jobs: [{ dedupeKey: 'z' }, { dedupeKey: 'a' }] }), 'ALREADY_EXISTS');
      expect(message).toContain(outside.id);
      await rejection(storage.batches.getBatch(NODE, 'b1'), 'NOT_FOUND');
      expect(await allJobs(storage)).toEqual([outside]);

      const created = await storage.batches.createBatch(NODE, { id: 'b1', onDuplicate: 'returnExisting', jobs: [{ dedupeKey: 'z' }, { dedupeKey: 'a' }] });
      expect(created.jobIds[1]).toBe(outside.id);
      expect(created.batch).toMatchObject({ total: 1, counts: { PENDING: 1 } });
      expect(await storage.jobStore.getJob(NODE, { id: outside.id })).toEqual(outside);
    });

    it('puts the live job in the place of each duplicate with returnExisting, creating each key once', async () => {
      const { storage } = openClocked();
      const created = await storage.batches.createBatch(NODE, {
        id: 'b1',
        onDuplicate: 'returnExisting',
        jobs: [{ dedupeKey: 'a', state: 'QUEUED' }, { dedupeKey: 'b' }, { dedupeKey: 'a' }, {}, { dedupeKey: 'b' }, { dedupeKey: 'a', namespace: 'other' }],
      });
      const [a, b, a2, plain, b2, otherA] = created.jobIds;
      expect(a2).toBe(a);
      expect(b2).toBe(b);
      expect(new Set([a, b, plain, otherA]).size).toBe(4);
      expect(created.batch).toMatchObject({ total: 4, counts: { QUEUED: 1, PENDING: 3 } });
      const jobs = await allJobs(storage);
      expect(jobs).toHaveLength(4);
      expect(jobs.every((job) => job.batchId === 'b1')).toBe(true);
      expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', NODE))).toEqual([]);
    });

    it('creates a new job for a key whose earlier job has ended', async () => {
      const { storage } = openClocked();
      const ended = (await storage.jobStore.createJob(NODE, { dedupeKey: 'a' })).job;
      await storage.jobStore.updateJobState(NODE, { jobId: ended.id, newState: 'CANCELLED' });
      for (const onDuplicate of ['fail', 'returnExisting'] as const) {
        const { jobIds } = await storage.batches.createBatch(NODE, { onDuplicate, jobs: [{ dedupeKey: 'a' }] });
        expect(jobIds[0]).not.toBe(ended.id);
        await storage.jobStore.updateJobState(NODE, { jobId: jobIds[0]!, newState: 'CANCELLED' });
      }
      expect(await allJobs(storage)).toHaveLength(3);
    });

    it('refuses an unknown on_duplicate (INVALID_ARGUMENT)', async () => {
      const { storage } = openClocked();
      await storage.jobStore.createJob(NODE, { dedupeKey: 'a' });
      await rejection(storage.batches.createBatch(NODE, { onDuplicate: 'sometimes' as OnDuplicate, jobs: [{ dedupeKey: 'b' }] }), 'INVALID_ARGUMENT');
      expect((await storage.batches.listBatches(NODE, {})).items).toEqual([]);
      expect(await allJobs(storage)).toHaveLength(1);
    });
  });

  describe('with request ids', () => {
    it('answers a retried create that returned the live job the same way, even once that job has ended and freed the key', async () => {
      const { storage } = openClocked();
      const live = (await storage.jobStore.createJob(NODE, { dedupeKey: 'k' })).job;
      const first = await storage.jobStore.createJob(NODE, { dedupeKey: 'k', onDuplicate: 'returnExisting', requestId: 'r-1' });
      expect(first).toMatchObject({ job: { id: live.id }, existing: true });
      await storage.jobStore.updateJobState(NODE, { jobId: live.id, newState: 'CANCELLED' });
      const retried = await storage.jobStore.createJob(NODE, { dedupeKey: 'k', onDuplicate: 'returnExisting', requestId: 'r-1' });
      expect(retried).toMatchObject({ job: { id: live.id, state: 'CANCELLED' }, existing: true });
      expect(await allJobs(storage)).toHaveLength(1);
    });

    it('completes at once a batch whose every job was a live duplicate, and answers its retry with the same job ids', async () => {
      const { storage } = openClocked();
      const live = (await storage.jobStore.createJob(NODE, { dedupeKey: 'k' })).job;
      const request = { id: 'b-dup', requestId: 'r-2', onDuplicate: 'returnExisting' as const, jobs: [{ dedupeKey: 'k' }] };
      const created = await storage.batches.createBatch(NODE, request);
      expect(created.jobIds).toEqual([live.id]);
      expect(created.batch).toMatchObject({ total: 0, completed: true });
      const history = (await storage.jobStore.getJobHistory(NODE, { pageSize: 1000 })).items;
      expect(history.filter((event) => event.type === 'BATCH_COMPLETED')).toEqual([
        expect.objectContaining({ batchId: 'b-dup', jobId: '', message: 'batch b-dup completed: no job of its own' }),
      ]);
      expect(await storage.batches.createBatch(NODE, request)).toEqual(created);
    });
  });
});
