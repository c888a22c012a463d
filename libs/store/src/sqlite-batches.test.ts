import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_JOBS, type CreateBatchInput } from './batch-store.js';
import { allHistory, allJobIds, expectConsistent, getJob, jobsOf, NODE, T0, useClockedStorage } from './test-support/clocked-requester.js';
import { rejection } from './test-support/temp-storage.js';

describe('CreateBatch, and the batch a CreateJob names', () => {
  const openClocked = useClockedStorage();

  it('creates the batch and all its jobs at once, in input order, in the namespace of the batch unless a job names its own', async () => {
    const { storage } = openClocked();
    const created = await storage.batches.createBatch(NODE, {
      id: 'nightly-1',
      namespace: 'etl',
      labels: { team: 'data', env: 'prod' },
      jobs: [
        { name: 'extract', state: 'QUEUED', priority: 2, queue: 'extract', spec: { table: 'a' } },
        { name: 'load', labels: { step: 'load' } },
        { id: 'fixed-id', namespace: 'other', state: 'HELD' },
      ],
    });
    expect(created.batch).toEqual({
      id: 'nightly-1',
      namespace: 'etl',
      labels: { env: 'prod', team: 'data' },
      counts: { QUEUED: 1, PENDING: 1, HELD: 1 },
      total: 3,
      completed: false,
      completeRevision: 0,
      createTime: T0,
      completeTime: 0,
    });
    expect(created.jobIds).toHaveLength(3);
    expect(created.jobIds[2]).toBe('fixed-id');
    const jobs = await Promise.all(created.jobIds.map((id) => getJob(storage, id)));
    expect(jobs.map((job) => [job.name, job.namespace, job.state, job.batchId])).toEqual([
      ['extract', 'etl', 'QUEUED', 'nightly-1'],
      ['load', 'etl', 'PENDING', 'nightly-1'],
      ['', 'other', 'HELD', 'nightly-1'],
    ]);
    expect(jobs[0]).toMatchObject({ priority: 2, queue: 'extract', spec: { table: 'a' } });
    expect(jobs[1]!.labels).toEqual({ step: 'load' });
    expect(created.revision).toBe(Math.max(...jobs.map((job) => job.revision)));
    expect(await storage.batches.getBatch(NODE, 'nightly-1')).toEqual(created.batch);
    expectConsistent(storage);
  });

  it('writes long runs of plain jobs between named ones in input order: ids, revisions, history, rows and counts', async () => {
    const { storage } = openClocked();
    const plain = (n: number) => ({ state: 'QUEUED' as const, labels: { n: String(n), ...(n % 2 === 0 ? { even: 'yes' } : {}) }, spec: { n } });
    const jobs: CreateBatchInput['jobs'] = [
      ...Array.from({ length: 70 }, (_, n) => plain(n)),
      { name: 'named', state: 'PENDING' },
      ...Array.from({ length: 100 }, (_, n) => plain(70 + n)),
      { dedupeKey: 'once', state: 'QUEUED' },
      { dedupeKey: 'once', state: 'QUEUED' },
      plain(170),
    ];
    const created = await storage.batches.createBatch(NODE, { id: 'mixed', jobs, onDuplicate: 'returnExisting' });

    // The second job with the live dedupe key gets the first one's id.
    expect(created.jobIds[172]).toBe(created.jobIds[171]);
    const distinct = [...new Set(created.jobIds)];
    expect(distinct).toHaveLength(173);
    const stored = await Promise.all(distinct.map((id) => getJob(storage, id)));
    const specs = stored.map((job) => (job.spec as { n?: number }).n);
    expect(specs).toEqual([...Array.from({ length: 70 }, (_, n) => n), undefined, ...Array.from({ length: 100 }, (_, n) => 70 + n), undefined, 170]);
    expect(stored[5]!.labels).toEqual({ n: '5' });
    expect(stored[6]!.labels).toEqual({ n: '6', even: 'yes' });
    expect(stored[70]!.name).toBe('named');
    // Revisions rise in input order, one JOB_CREATED event each, and each job was written with its own.
    const revisions = stored.map((job) => job.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(173);
    const creations = (await allHistory(storage)).filter((event) => event.type === 'JOB_CREATED');
    expect(creations.map((event) => [event.jobId, event.revision])).toEqual(stored.map((job) => [job.id, job.revision]));
    expect(created.revision).toBe(revisions.at(-1));
    const evens = await storage.jobStore.listJobs(NODE, { labelSelector: { even: 'yes' }, pageSize: 1000 });
    expect(evens.items).toHaveLength(86);
    expect((await storage.batches.getBatch(NODE, 'mixed')).counts).toEqual({ QUEUED: 172, PENDING: 1 });
    expectConsistent(storage);
  });

  it('gives a batch without an id one of its own, in the default namespace', async () => {
    const { storage } = openClocked();
    const { batch } = await storage.batches.createBatch(NODE, { jobs: jobsOf(2) });
    expect(batch.id).toMatch(/^b-/);
    expect(batch).toMatchObject({ namespace: 'default', labels: {}, counts: { QUEUED: 2 } });
  });

  it('returns the first batch when retried with the same request_id, creating nothing more', async () => {
    const { storage, clock } = openClocked();
    const first = await storage.batches.createBatch(NODE, { requestId: 'req-1', jobs: jobsOf(3) });
    clock.now += 1000;
    const retried = await storage.batches.createBatch(NODE, { requestId: 'req-1', jobs: jobsOf(3) });
    expect(retried).toEqual(first);
    const differentBody = await storage.batches.createBatch(NODE, { requestId: 'req-1', id: 'other', jobs: jobsOf(5) });
    expect(differentBody.batch.id).toBe(first.batch.id);
    expect(differentBody.jobIds).toEqual(first.jobIds);
    expect(await allJobIds(storage)).toHaveLength(3);
    expect((await storage.batches.listBatches(NODE, {})).items).toHaveLength(1);
    // A request_id names one create, whatever it created.
    await rejection(storage.jobStore.createJob(NODE, { requestId: 'req-1' }), 'ALREADY_EXISTS');
  });

  it('answers a retry with the first answer: the same job ids and revision, though the batch has changed since', async () => {
    const { storage } = openClocked();
    const first = await storage.batches.createBatch(NODE, { id: 'b-r', requestId: 'req-2', jobs: jobsOf(2) });
    await storage.jobStore.createJob(NODE, { batchId: 'b-r' });
    const retried = await storage.batches.createBatch(NODE, { id: 'b-r', requestId: 'req-2', jobs: jobsOf(2) });
    expect(retried.jobIds).toEqual(first.jobIds);
    expect(retried.revision).toBe(first.revision);
    expect(retried.batch.total).toBe(3);
  });

  it('refuses a batch without jobs, and a job naming another batch (INVALID_ARGUMENT)', async () => {
    const { storage } = openClocked();
    expect(await rejection(storage.batches.createBatch(NODE, { id: 'empty', jobs: [] }), 'INVALID_ARGUMENT')).toContain('at least one job');
    expect(await rejection(storage.batches.createBatch(NODE, { id: 'b-1', jobs: [{}, { batchId: 'b-2' }] }), 'INVALID_ARGUMENT')).toContain('jobs[1]');
    expect((await storage.batches.createBatch(NODE, { id: 'b-1', jobs: [{ batchId: 'b-1' }] })).batch.total).toBe(1);
  });

  it('takes 10,000 jobs in one call and refuses 10,001 (INVALID_ARGUMENT), creating nothing', async () => {
    const { storage } = openClocked();
    const message = await rejection(storage.batches.createBatch(NODE, { id: 'too-big', jobs: jobsOf(MAX_BATCH_JOBS + 1) }), 'INVALID_ARGUMENT');
    expect(message).toContain(String(MAX_BATCH_JOBS));
    expect(fs.existsSync(storage.locations.nodeDatabasePath('requester', NODE))).toBe(false);

    const { batch, jobIds } = await storage.batches.createBatch(NODE, { id: 'largest', jobs: jobsOf(MAX_BATCH_JOBS) });
    expect(jobIds).toHaveLength(MAX_BATCH_JOBS);
    expect(batch).toMatchObject({ total: MAX_BATCH_JOBS, counts: { QUEUED: MAX_BATCH_JOBS } });
    await rejection(storage.batches.getBatch(NODE, 'too-big'), 'NOT_FOUND');
  });

  it('refuses a batch holding a bad job (INVALID_ARGUMENT naming jobs[i]), creating no batch and no job', async () => {
    const { storage } = openClocked();
    await storage.jobStore.createJob(NODE, { id: 'existing' });
    const badJobs: CreateBatchInput['jobs'][number][] = [
      { priority: 1.5 },
      { state: 'RUNNING' },
      { queue: 'not a queue' },
      { dedupeKey: 'k'.repeat(257) },
      { retryPolicy: { backoffMs: 10, maxBackoffMs: 5 } },
    ];
    for (const bad of badJobs) {
      const message = await rejection(storage.batches.createBatch(NODE, { id: 'bad', jobs: [{}, {}, bad, {}] }), 'INVALID_ARGUMENT');
      expect(message).toMatch(/^jobs\[2\]: /);
    }
    await rejection(storage.batches.createBatch(NODE, { id: 'bad batch id', jobs: [{}] }), 'INVALID_ARGUMENT');
    await rejection(storage.batches.createBatch(NODE, { labels: { '-bad': 'x' }, jobs: [{}] }), 'INVALID_ARGUMENT');
    expect((await storage.batches.listBatches(NODE, {})).items).toEqual([]);
    expect(await allJobIds(storage)).toEqual(['existing']);
  });

  it('creates nothing when one of its jobs cannot be written (ALREADY_EXISTS)', async () => {
    const { storage } = openClocked();
    await storage.jobStore.createJob(NODE, { id: 'taken', name: 'taken-name' });
    const before = await allHistory(storage);
    await rejection(storage.batches.createBatch(NODE, { id: 'b1', jobs: [{}, {}, { id: 'taken' }] }), 'ALREADY_EXISTS');
    await rejection(storage.batches.createBatch(NODE, { id: 'b1', jobs: [{ name: 'taken-name' }, {}] }), 'ALREADY_EXISTS');
    await rejection(storage.batches.createBatch(NODE, { id: 'b1', jobs: [{ id: 'twin' }, { id: 'twin' }] }), 'ALREADY_EXISTS');
    await rejection(storage.batches.getBatch(NODE, 'b1'), 'NOT_FOUND');
    expect(await allJobIds(storage)).toEqual(['taken']);
    expect(await allHistory(storage)).toEqual(before);
    expectConsistent(storage);
  });

  it('refuses a batch id that already exists (ALREADY_EXISTS)', async () => {
    const { storage } = openClocked();
    await storage.batches.createBatch(NODE, { id: 'b1', jobs: jobsOf(1) });
    await rejection(storage.batches.createBatch(NODE, { id: 'b1', jobs: jobsOf(1) }), 'ALREADY_EXISTS');
    expect((await storage.batches.getBatch(NODE, 'b1')).total).toBe(1);
  });

  it('creates the batch a CreateJob names when it does not exist yet, in the namespace of the job', async () => {
    const { storage, clock } = openClocked();
    clock.now += 7;
    const { job } = await storage.jobStore.createJob(NODE, { namespace: 'team-a', batchId: 'adhoc-1', state: 'QUEUED' });
    expect(job.batchId).toBe('adhoc-1');
    expect(await storage.batches.getBatch(NODE, 'adhoc-1')).toEqual({
      id: 'adhoc-1',
      namespace: 'team-a',
      labels: {},
      counts: { QUEUED: 1 },
      total: 1,
      completed: false,
      completeRevision: 0,
      createTime: T0 + 7,
      completeTime: 0,
    });
    await storage.jobStore.createJob(NODE, { namespace: 'team-a', batchId: 'adhoc-1' });
    expect((await storage.batches.getBatch(NODE, 'adhoc-1')).counts).toEqual({ QUEUED: 1, PENDING: 1 });
    expect((await storage.batches.listBatches(NODE, { namespace: 'team-a' })).items.map((batch) => batch.id)).toEqual(['adhoc-1']);
  });
});
