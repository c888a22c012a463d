import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectConsistent, jobsOf, NODE, useClockedStorage } from './test-support/clocked-requester.js';
import { rejection } from './test-support/temp-storage.js';

describe('reading batches', () => {
  const openClocked = useClockedStorage();

  it('gets a batch by id; an unknown batch is NOT_FOUND, a node without a database too', async () => {
    const { storage } = openClocked();
    await rejection(storage.batches.getBatch(NODE, 'b1'), 'NOT_FOUND');
    expect(fs.existsSync(storage.locations.nodeDatabasePath('requester', NODE))).toBe(false);
    await storage.batches.createBatch(NODE, { id: 'b1', jobs: jobsOf(1) });
    await rejection(storage.batches.getBatch(NODE, 'b2'), 'NOT_FOUND');
    await rejection(storage.batches.getBatch(NODE, 'bad id'), 'INVALID_ARGUMENT');
    await rejection(storage.batches.getBatchReport(NODE, { batchId: 'b2' }), 'NOT_FOUND');
  });

  it('lists batches oldest first, in keyset pages, filtered by namespace', async () => {
    const { storage, clock } = openClocked();
    for (const [id, namespace] of [['c', 'ns-a'], ['a', 'ns-b'], ['e', 'ns-a'], ['b', 'ns-a'], ['d', 'ns-b']] as const) {
      await storage.batches.createBatch(NODE, { id, namespace, jobs: jobsOf(1) });
      // Two batches share each millisecond: the id orders them then.
      if (id !== 'c' && id !== 'b') clock.now += 1;
    }
    const pages = async (namespace?: string) => {
      const result: string[][] = [];
      let pageToken: string | undefined;
      do {
        const page = await storage.batches.listBatches(NODE, { namespace, pageSize: 2, pageToken });
        result.push(page.items.map((batch) => batch.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return result;
    };
    expect(await pages()).toEqual([['a', 'c'], ['e', 'b'], ['d']]);
    expect(await pages('ns-a')).toEqual([['c', 'e'], ['b']]);
    expect(await pages('ns-b')).toEqual([['a', 'd']]);
    expect(await pages('ns-none')).toEqual([[]]);
    const first = await storage.batches.listBatches(NODE, { pageSize: 2 });
    await rejection(storage.batches.listBatches(NODE, { namespace: 'ns-a', pageToken: first.nextPageToken }), 'INVALID_ARGUMENT');
  });

  it('keeps the counts per state current with every change of its jobs', async () => {
    const { storage } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, { id: 'b1', jobs: [...jobsOf(5), {}, { state: 'HELD' }] });
    const counts = async () => (await storage.batches.getBatch(NODE, batch.id)).counts;
    expect(await counts()).toEqual({ QUEUED: 5, PENDING: 1, HELD: 1 });
    const lease = await storage.leaseStore.grant(60);

    const claimed = (await storage.workQueues.claimJob(NODE, { queue: '', leaseId: lease.id })).job!;
    expect(await counts()).toEqual({ QUEUED: 4, RUNNING: 1, PENDING: 1, HELD: 1 });
    await storage.jobStore.updateJobState(NODE, { jobId: claimed.id, newState: 'COMPLETED', claim: { leaseId: lease.id, token: claimed.claim!.token } });
    expect(await counts()).toEqual({ QUEUED: 4, COMPLETED: 1, PENDING: 1, HELD: 1 });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[1]!, newState: 'FAILED' });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[2]!, newState: 'CANCELLED' });
    await storage.workQueues.holdJob(NODE, { jobId: jobIds[3]! });
    expect(await counts()).toEqual({ QUEUED: 1, COMPLETED: 1, FAILED: 1, CANCELLED: 1, PENDING: 1, HELD: 2 });
    await storage.workQueues.releaseJob(NODE, { jobId: jobIds[6]! });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[5]!, newState: 'QUEUED' });
    expect(await counts()).toEqual({ QUEUED: 3, COMPLETED: 1, FAILED: 1, CANCELLED: 1, HELD: 1 });

    // A job moved into another batch counts there, and is created with it.
    await storage.jobStore.updateJob(NODE, { jobId: jobIds[4]!, changes: { batchId: 'b2' } });
    expect(await counts()).toEqual({ QUEUED: 2, COMPLETED: 1, FAILED: 1, CANCELLED: 1, HELD: 1 });
    expect((await storage.batches.getBatch(NODE, 'b2')).counts).toEqual({ QUEUED: 1 });
    // Deleting a terminal job takes it out of the counts.
    await storage.jobStore.deleteJob(NODE, jobIds[2]!);
    const after = await storage.batches.getBatch(NODE, batch.id);
    expect(after).toMatchObject({ counts: { QUEUED: 2, COMPLETED: 1, FAILED: 1, HELD: 1 }, total: 5 });
    expectConsistent(storage);
  });

  it('reports the FAILED jobs of a batch with their state messages, oldest first, in pages', async () => {
    const { storage, clock } = openClocked();
    const { batch, jobIds } = await storage.batches.createBatch(NODE, {
      id: 'b1',
      jobs: [
        { name: 'j0', queue: 'q', state: 'QUEUED', retryPolicy: { maxRetries: 1, backoffMs: 10 } },
        { name: 'j1' },
        { name: 'j2' },
        { name: 'j3' },
        { name: 'j4' },
      ],
    });
    // j0 fails out of retries after two lost claims.
    for (let attempt = 0; attempt < 2; attempt++) {
      clock.now += 100;
      const lease = await storage.leaseStore.grant(2);
      await storage.workQueues.claimJob(NODE, { queue: 'q', leaseId: lease.id });
      clock.now = lease.expireTime;
      await storage.leaseStore.expireDue();
      await storage.claims.returnOrphanedClaims();
    }
    const failTimeOfJ0 = clock.now;
    clock.now += 1;
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[3]!, newState: 'FAILED', message: 'disk full' });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[2]!, newState: 'CANCELLED', message: 'not wanted' });
    await storage.jobStore.updateJobState(NODE, { jobId: jobIds[1]!, newState: 'FAILED', message: 'bad input' });

    const first = await storage.batches.getBatchReport(NODE, { batchId: batch.id, pageSize: 2 });
    expect(first.batch).toMatchObject({ id: 'b1', counts: { FAILED: 3, CANCELLED: 1, PENDING: 1 }, completed: false });
    expect(first.failedJobs).toEqual([
      { jobId: jobIds[0], name: 'j0', queue: 'q', stateMessage: expect.stringMatching(/out of retries/), retryCount: 1, failTime: failTimeOfJ0 },
      { jobId: jobIds[1], name: 'j1', queue: '', stateMessage: 'bad input', retryCount: 0, failTime: clock.now },
    ]);
    expect(first.nextPageToken).not.toBe('');
    const second = await storage.batches.getBatchReport(NODE, { batchId: batch.id, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.failedJobs).toEqual([{ jobId: jobIds[3], name: 'j3', queue: '', stateMessage: 'disk full', retryCount: 0, failTime: clock.now }]);
    expect(second.nextPageToken).toBe('');
    await rejection(storage.batches.getBatchReport(NODE, { batchId: 'other', pageToken: first.nextPageToken }), 'NOT_FOUND');
  });
});
