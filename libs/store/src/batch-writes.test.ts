import { describe, expect, it } from 'vitest';
import type { Job, JobState } from './job-model.js';
import { allJobIds, batchCompletions, expectConsistent, jobsOf, NODE, useClockedStorage } from './test-support/clocked-requester.js';
import { rejection } from './test-support/temp-storage.js';

describe('BATCH_COMPLETED', () => {
  const openClocked = useClockedStorage();

  it('is written once, when the last live job of the batch ends, and marks the batch completed', async () => {
    const { storage, clock } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { id: 'b1', jobs: [{}, {}, { state: 'HELD' }] });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[0]!, newState: 'CANCELLED' });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[1]!, newState: 'FAILED' });
    expect(await batchCompletions(storage)).toEqual([]);
    expect((await storage.batches.getBatch(NODE, batch.id)).completed).toBe(false);

    clock.now += 50;
    const last = await storage.jobStore.updateJobState(NODE, { jobId: jobIds[2]!, newState: 'FAILED' });
    const completions = await batchCompletions(storage);
    expect(completions).toHaveLength(1);
    expect(completions[0]).toMatchObject({ type: 'BATCH_COMPLETED', batchId: 'b1', jobId: last.id, time: clock.now });
    expect(completions[0]!.revision).toBeGreaterThan(last.revision);
    expect(completions[0]!.message).toContain('2 FAILED');
    expect(completions[0]!.message).toContain('1 CANCELLED');
    expect(await storage.batches.getBatch(NODE, batch.id)).toMatchObject({
      completed: true,
      completeRevision: completions[0]!.revision,
      completeTime: clock.now,
      counts: { FAILED: 2, CANCELLED: 1 },
    });
    // Later changes in the database do not complete it again.
    await storage.jobStore.createJob(NODE, {});
    await storage.jobStore.deleteJob(NODE, jobIds[0]!);
    expect(await batchCompletions(storage)).toHaveLength(1);
    expectConsistent(storage);
  });

  it('is written exactly once when the final transitions of all its jobs are fired concurrently', async () => {
    const { storage } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { jobs: jobsOf(300) });
    const finals: JobState[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
    const lease = await storage.leaseStore.grant(60);
    const claimed: Job[] = [];
    for (let i = 0; i < 100; i++) claimed.push((await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id })).job!);
    const claimedIds = new Set(claimed.map((job) => job.id));

    await Promise.all([
      ...claimed.map((job) =>
        storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', claim: { leaseId: lease.id, token: job.claim!.token } }),
      ),
      ...jobIds
        .filter((id) => !claimedIds.has(id))
        .map((jobId, index) => storage.jobStore.updateJobState(NODE, { jobId, newState: finals[1 + (index % 2)]! })),
    ]);

    const completions = await batchCompletions(storage);
    expect(completions).toHaveLength(1);
    expect(completions[0]).toMatchObject({ batchId: batch.id, message: `batch ${batch.id} completed: 100 CANCELLED, 100 COMPLETED, 100 FAILED` });
    expect(await storage.batches.getBatch(NODE, batch.id)).toMatchObject({
      completed: true,
      completeRevision: completions[0]!.revision,
      counts: { COMPLETED: 100, FAILED: 100, CANCELLED: 100 },
    });
    expectConsistent(storage);
  });

  it('is written once for each of many batches ending concurrently', async () => {
    const { storage } = openClocked();
    const batches = await Promise.all(Array.from({ length: 10 }, (_, index) => storage.batches.createBatch(NODE, { id: `b${index}`, jobs: jobsOf(20) })));
    await Promise.all(batches.flatMap(({ jobIds }) => jobIds.map((jobId) => storage.jobStore.updateJobState(NODE, { jobId, newState: 'CANCELLED' }))));
    const completions = await batchCompletions(storage);
    expect(completions.map((event) => event.batchId).sort()).toEqual(batches.map(({ batch }) => batch.id).sort());
  });

  it('is written once when the last jobs of the batch fail because the lease of their claimer ended', async () => {
    const { storage, clock } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { id: 'b1', jobs: jobsOf(4, { retryPolicy: { maxRetries: 0 } }) });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[0]!, newState: 'CANCELLED' });
    const lease = await storage.leaseStore.grant(2);
    for (let i = 0; i < 3; i++) await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id });
    clock.now = lease.expireTime;
    await storage.leaseStore.expireDue();
    await storage.claims.returnOrphanedClaims();

    const completions = await batchCompletions(storage);
    expect(completions).toHaveLength(1);
    expect(completions[0]).toMatchObject({ batchId: 'b1', time: clock.now });
    expect(await storage.batches.getBatch(NODE, batch.id)).toMatchObject({ completed: true, counts: { CANCELLED: 1, FAILED: 3 } });
    expectConsistent(storage);
  });

  it('is written when the last live job leaves the batch for another', async () => {
    const { storage } = openClocked();
    const { jobIds } = await storage.batches.createBatch(NODE, { id: 'b1', jobs: [{}, {}] });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[0]!, newState: 'CANCELLED' });
    await storage.jobStore.updateJob(NODE, { jobId: jobIds[1]!, changes: { batchId: 'b2' } });
    expect((await batchCompletions(storage)).map((event) => event.batchId)).toEqual(['b1']);
    expect((await storage.batches.getBatch(NODE, 'b1')).completed).toBe(true);
  });

  it('closes the batch: a completed batch refuses new jobs (FAILED_PRECONDITION)', async () => {
    const { storage } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { id: 'b1', jobs: [{}] });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[0]!, newState: 'CANCELLED' });
    const before = await storage.batches.getBatch(NODE, batch.id);
    expect(before.completed).toBe(true);

    expect(await rejection(storage.jobStore.createJob(NODE, { batchId: 'b1' }), 'FAILED_PRECONDITION')).toContain('b1');
    const outsider = (await storage.jobStore.createJob(NODE, {})).job;
    await rejection(storage.jobStore.updateJob(NODE, { jobId: outsider.id, changes: { batchId: 'b1' } }), 'FAILED_PRECONDITION');
    expect(await storage.batches.getBatch(NODE, batch.id)).toEqual(before);
    expect(await allJobIds(storage)).toHaveLength(2);
  });
});
