import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_JOBS, type CreateBatchInput } from './batch-store.js';
import { checkNodeDatabase } from './consistency-check.js';
import type { Job, JobEvent, JobState } from './job-model.js';
import type { Storage } from './storage.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'requester-1';
const T0 = 1_700_000_000_000;

describe('batches', () => {
  const temp = useTempStorage('perTest');

  function openClocked() {
    const clock = { now: T0 };
    const storage = temp.open({ clock: () => clock.now });
    return { storage, clock };
  }

  const jobsOf = (count: number, extra: CreateBatchInput['jobs'][number] = {}): CreateBatchInput['jobs'] =>
    Array.from({ length: count }, () => ({ state: 'QUEUED' as const, ...extra }));

  const getJob = (storage: Storage, jobId: string) => storage.jobStore.getJob(NODE, { id: jobId });

  async function allHistory(storage: Storage): Promise<JobEvent[]> {
    const events: JobEvent[] = [];
    let pageToken: string | undefined;
    do {
      const page = await storage.jobStore.getJobHistory(NODE, { pageSize: 1000, pageToken });
      events.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return events;
  }

  const batchCompletions = async (storage: Storage) => (await allHistory(storage)).filter((event) => event.type === 'BATCH_COMPLETED');

  async function allJobIds(storage: Storage): Promise<string[]> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await storage.jobStore.listJobs(NODE, { pageSize: 1000, pageToken });
      ids.push(...page.items.map((job) => job.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return ids;
  }

  /** The consistency check, which also compares each batch's counts and completion with its jobs. */
  function expectConsistent(storage: Storage) {
    expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', NODE))).toEqual([]);
  }

  describe('CreateBatch', () => {
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
  });

  describe('reading batches', () => {
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

  describe('BATCH_COMPLETED', () => {
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
