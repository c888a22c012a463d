import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import { DRAIN_LOCK } from './node-drain.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';
import { eventually } from './test-support/work-queue-fixture.js';

const SOURCE = 'requester-a';
const TARGET = 'requester-b';

async function rejection(promise: Promise<unknown>, code: string, message?: string | RegExp): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code, ...(message === undefined ? {} : { message: expect.stringMatching(message) }) });
}

describe('draining a requester node into another', () => {
  const temp = useTempStorage('perTest');

  /** Live jobs of several kinds on the source, and one that has ended. */
  async function seed(storage: Storage) {
    const { jobStore, batches } = storage;
    const queued = (await jobStore.createJob(SOURCE, { state: 'QUEUED', name: 'nightly', labels: { team: 'data' }, spec: { cmd: ['echo', 'hi'] } })).job;
    const pending = (await jobStore.createJob(SOURCE, {})).job;
    const running = (await jobStore.createJob(SOURCE, { state: 'QUEUED', queue: 'render' })).job;
    await jobStore.createExecution(SOURCE, { jobId: running.id, computeNodeId: 'compute-1' });
    await jobStore.updateJobState(SOURCE, { jobId: running.id, newState: 'RUNNING' });
    const done = (await jobStore.createJob(SOURCE, { state: 'QUEUED' })).job;
    await jobStore.updateJobState(SOURCE, { jobId: done.id, newState: 'RUNNING' });
    await jobStore.updateJobState(SOURCE, { jobId: done.id, newState: 'COMPLETED' });
    const { batch, jobIds } = await batches.createBatch(SOURCE, { jobs: [{ state: 'QUEUED' }, { state: 'QUEUED' }] });
    return { live: [queued.id, pending.id, running.id, ...jobIds], ended: done.id, batchId: batch.id, queued, running };
  }

  function expectConsistent(storage: Storage) {
    for (const node of [SOURCE, TARGET]) {
      expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', node))).toEqual([]);
    }
  }

  it('moves every job that has not ended, with its history and executions, then retires the source', async () => {
    const storage = temp.open();
    const seeded = await seed(storage);
    const historyBefore = await storage.jobStore.getJobHistory(SOURCE, { jobId: seeded.running.id });

    const outcome = await storage.admin.drainNode(SOURCE, TARGET);

    expect(outcome).toEqual({ moved: 5, total: 5, retired: true });
    const { jobStore } = storage;
    for (const id of seeded.live) {
      await rejection(jobStore.getJob(SOURCE, { id }), 'NOT_FOUND', `a drain moved it to node ${TARGET}`);
      expect((await jobStore.getJob(TARGET, { id })).id).toBe(id);
    }
    expect((await jobStore.getJob(SOURCE, { id: seeded.ended })).state).toBe('COMPLETED');
    const moved = await jobStore.getJob(TARGET, { id: seeded.queued.id });
    expect(moved).toMatchObject({ name: 'nightly', labels: { team: 'data' }, spec: { cmd: ['echo', 'hi'] }, state: 'QUEUED' });
    const executions = await jobStore.listExecutions(TARGET, { jobId: seeded.running.id });
    expect(executions.items.map((execution) => execution.computeNodeId)).toEqual(['compute-1']);
    const history = (await jobStore.getJobHistory(TARGET, { jobId: seeded.running.id })).items;
    expect(history.map((event) => event.type)).toEqual([...historyBefore.items.map((event) => event.type), 'JOB_MOVED_IN']);
    expect((await storage.batches.getBatch(TARGET, seeded.batchId)).counts).toMatchObject({ QUEUED: 2 });
    expect(storage.catalogue.list().map((entry) => [entry.nodeId, entry.lifecycle])).toEqual([
      [SOURCE, 'RETIRED'],
      [TARGET, 'ACTIVE'],
    ]);
    expectConsistent(storage);
  });

  it('refuses new jobs on a draining or retired node, and keeps its ended jobs readable', async () => {
    const storage = temp.open();
    await seed(storage);
    let duringDrain: Promise<unknown> | undefined;
    await storage.admin.drainNode(SOURCE, TARGET, {
      onProgress: () => {
        duringDrain ??= storage.jobStore.createJob(SOURCE, {}).catch((error: unknown) => error);
      },
    });
    expect(await duringDrain).toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/DRAINING and takes no new jobs/) });
    await rejection(storage.jobStore.createJob(SOURCE, {}), 'FAILED_PRECONDITION', /RETIRED and takes no new jobs/);
    await rejection(storage.batches.createBatch(SOURCE, { jobs: [{}] }), 'FAILED_PRECONDITION', /RETIRED/);
    expect((await storage.jobStore.listJobs(SOURCE, {})).items.map((job) => job.state)).toEqual(['COMPLETED']);
  });

  it('still answers a retried create on a retired node as the first time, and says where its job went', async () => {
    const storage = temp.open();
    const first = await storage.jobStore.createJob(SOURCE, { requestId: 'req-1' });
    await storage.admin.drainNode(SOURCE, TARGET);
    await rejection(storage.jobStore.createJob(SOURCE, { requestId: 'req-1' }), 'ALREADY_EXISTS', `a drain has since moved to node ${TARGET}`);
    expect((await storage.jobStore.getJob(TARGET, { id: first.job.id })).id).toBe(first.job.id);
  });

  it('takes the request ids of a job’s executions along: a retried CreateExecution makes no second execution on the target', async () => {
    const storage = temp.open();
    const { jobStore } = storage;
    const job = (await jobStore.createJob(SOURCE, { state: 'QUEUED' })).job;
    const first = await jobStore.createExecution(SOURCE, { jobId: job.id, computeNodeId: 'compute-1', requestId: 'exec-req-1' });
    await storage.admin.drainNode(SOURCE, TARGET);

    expect((await jobStore.createExecution(TARGET, { jobId: job.id, computeNodeId: 'compute-1', requestId: 'exec-req-1' })).id).toBe(first.id);
    expect((await jobStore.listExecutions(TARGET, { jobId: job.id })).items.map((execution) => execution.id)).toEqual([first.id]);
    await rejection(
      jobStore.createExecution(SOURCE, { jobId: job.id, computeNodeId: 'compute-1', requestId: 'exec-req-1' }),
      'ALREADY_EXISTS',
      `request_id exec-req-1 created execution ${first.id}, which a drain has since moved to node ${TARGET} with job ${job.id}`,
    );
    expectConsistent(storage);
  });

  it('carries on where a drain stopped, and a job moves exactly once', async () => {
    const storage = temp.open();
    const seeded = await seed(storage);
    const more: string[] = [];
    for (let i = 0; i < 5; i++) {
      more.push(...(await storage.batches.createBatch(SOURCE, { jobs: Array.from({ length: 50 }, () => ({ state: 'QUEUED' as const })) })).jobIds);
    }
    const abort = new AbortController();
    const first = await storage.admin.drainNode(SOURCE, TARGET, {
      signal: abort.signal,
      onProgress: ({ moved }) => moved > 0 && abort.abort(),
    });
    // Groups of about a hundred, a batch's live jobs never split: 5 + 50 + 50 first.
    expect(first).toMatchObject({ moved: 105, total: 255, retired: false });
    expect(storage.catalogue.list()[0]).toMatchObject({ nodeId: SOURCE, lifecycle: 'DRAINING' });

    expect(await storage.admin.drainNode(SOURCE, TARGET)).toEqual({ moved: 150, total: 150, retired: true });
    expect(await storage.admin.drainNode(SOURCE, TARGET)).toEqual({ moved: 0, total: 0, retired: true });
    const onTarget = (await storage.jobStore.listJobs(TARGET, { pageSize: 1000 })).items.map((job) => job.id);
    expect(onTarget.sort()).toEqual([...seeded.live, ...more].sort());
    expectConsistent(storage);
  });

  it('keeps a job frozen on the source between its copy and its removal, so a crash there loses no change', async () => {
    // Retention that would fail every QUEUED job at once: it must pass the frozen ones by.
    const storage = temp.open({ retention: { requester: { QUEUED: { action: 'fail', olderThanMs: 0 } }, compute: {} } });
    const seeded = await seed(storage);
    // A crash after the copy committed on the target: the removal from the source fails.
    const raw = new Database(storage.locations.nodeDatabasePath('requester', SOURCE));
    raw.exec(`CREATE TRIGGER crash BEFORE INSERT ON job_history WHEN new.type = 'JOB_MOVED_OUT' BEGIN SELECT RAISE(ABORT, 'crash'); END`);
    await expect(storage.admin.drainNode(SOURCE, TARGET)).rejects.toThrow('crash');
    expect((await storage.jobStore.getJob(TARGET, { id: seeded.queued.id })).state).toBe('QUEUED');

    // Both databases hold the job now, but only the target's copy can change.
    await rejection(storage.jobStore.updateJobState(SOURCE, { jobId: seeded.queued.id, newState: 'CANCELLED' }), 'UNAVAILABLE', /a drain is moving this job/);
    await rejection(storage.jobStore.createExecution(SOURCE, { jobId: seeded.queued.id, computeNodeId: 'c' }), 'UNAVAILABLE');
    expect((await storage.jobStore.getJob(SOURCE, { id: seeded.queued.id })).state).toBe('QUEUED');
    // A claim passes the frozen jobs by, instead of failing on them: the target hands them out.
    const lease = await storage.leaseStore.grant(60);
    expect((await storage.workQueues.claimJob(SOURCE, { queue: '', leaseId: lease.id })).job).toBeUndefined();
    expect((await storage.workQueues.claimJob(TARGET, { queue: '', leaseId: lease.id })).job?.id).toBe(seeded.queued.id);
    expect(await storage.retention.runOne('requester', SOURCE)).toMatchObject({ failed: {} });

    raw.exec('DROP TRIGGER crash');
    raw.close();
    // Run again, the drain first finishes the removals of what was copied, then has nothing left.
    expect(await storage.admin.drainNode(SOURCE, TARGET)).toMatchObject({ moved: 0, retired: true });
    expect((await storage.jobStore.listJobs(TARGET, {})).items.map((job) => job.id).sort()).toEqual([...seeded.live].sort());
    const history = await storage.jobStore.getJobHistory(TARGET, { jobId: seeded.queued.id });
    expect(history.items.filter((event) => event.type === 'JOB_MOVED_IN')).toHaveLength(1);
    await rejection(storage.jobStore.getJob(SOURCE, { id: seeded.queued.id }), 'NOT_FOUND', `moved it to node ${TARGET}`);
    expectConsistent(storage);
  });

  it('frees what an interrupted drain froze even when its target no longer takes jobs', async () => {
    const storage = temp.open();
    const seeded = await seed(storage);
    const raw = new Database(storage.locations.nodeDatabasePath('requester', SOURCE));
    raw.exec(`CREATE TRIGGER crash BEFORE INSERT ON job_history WHEN new.type = 'JOB_MOVED_OUT' BEGIN SELECT RAISE(ABORT, 'crash'); END`);
    await expect(storage.admin.drainNode(SOURCE, TARGET)).rejects.toThrow('crash');
    raw.exec('DROP TRIGGER crash');
    raw.close();
    storage.catalogue.setLifecycle(TARGET, 'requester', 'DRAINING');

    // Draining into another node: the jobs already copied to the first are removed, not copied twice.
    expect(await storage.admin.drainNode(SOURCE, 'requester-c')).toMatchObject({ moved: 0, retired: true });
    expect((await storage.jobStore.listJobs(TARGET, {})).items.map((job) => job.id).sort()).toEqual([...seeded.live].sort());
    expect((await storage.jobStore.listJobs('requester-c', {})).items).toEqual([]);
    expectConsistent(storage);
  });

  it('finishes, when the store is opened again, what drains killed mid-way left frozen: copied jobs leave, the others are freed', async () => {
    let storage = temp.open();
    const seeded = await seed(storage);
    const uncopied = (await storage.jobStore.createJob('requester-c', { state: 'QUEUED' })).job;
    // A drain killed after its copy committed on the target, before the removal from the source.
    const raw = new Database(storage.locations.nodeDatabasePath('requester', SOURCE));
    raw.exec(`CREATE TRIGGER crash BEFORE INSERT ON job_history WHEN new.type = 'JOB_MOVED_OUT' BEGIN SELECT RAISE(ABORT, 'crash'); END`);
    await expect(storage.admin.drainNode(SOURCE, TARGET)).rejects.toThrow('crash');
    raw.exec('DROP TRIGGER crash');
    raw.close();
    // Another killed before its copy committed: the job frozen, nothing of it on the target.
    storage.catalogue.setLifecycle('requester-c', 'requester', 'DRAINING');
    const rawC = new Database(storage.locations.nodeDatabasePath('requester', 'requester-c'));
    rawC.prepare(`INSERT INTO job_moves (job_id, direction, node_id, batch_id, done, time) VALUES (?, 'out', ?, '', 0, 0)`).run(uncopied.id, TARGET);
    rawC.close();
    await rejection(storage.jobStore.updateJobState('requester-c', { jobId: uncopied.id, newState: 'CANCELLED' }), 'UNAVAILABLE');
    storage.close();

    storage = temp.open();
    const errors: unknown[] = [];
    expect(storage.admin.finishInterruptedDrains((_node, error) => errors.push(error))).toEqual([
      { sourceNodeId: SOURCE, jobs: seeded.live.length },
      { sourceNodeId: 'requester-c', jobs: 1 },
    ]);
    expect(errors).toEqual([]);
    await rejection(storage.jobStore.getJob(SOURCE, { id: seeded.queued.id }), 'NOT_FOUND', `moved it to node ${TARGET}`);
    expect((await storage.jobStore.listJobs(TARGET, {})).items.map((job) => job.id).sort()).toEqual([...seeded.live].sort());
    expect((await storage.jobStore.updateJobState('requester-c', { jobId: uncopied.id, newState: 'CANCELLED' })).state).toBe('CANCELLED');
    // The drains themselves are not resumed: their sources stay DRAINING, for an operator to run again.
    expect(storage.catalogue.lifecycle(SOURCE, 'requester')).toBe('DRAINING');
    expect(storage.admin.finishInterruptedDrains(() => {})).toEqual([]);
    expectConsistent(storage);
    expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', 'requester-c'))).toEqual([]);
  });

  it('moves the live jobs of a batch together, so it never completes on the target while some are still on the source', async () => {
    const storage = temp.open();
    const { batch } = await storage.batches.createBatch(SOURCE, { jobs: Array.from({ length: 150 }, () => ({ state: 'QUEUED' as const })) });
    const abort = new AbortController();
    const first = await storage.admin.drainNode(SOURCE, TARGET, { signal: abort.signal, onProgress: ({ moved }) => moved > 0 && abort.abort() });
    expect(first).toMatchObject({ moved: 150, retired: false });
    expect((await storage.batches.getBatch(TARGET, batch.id)).counts).toEqual({ QUEUED: 150 });
  });

  it('refuses to merge a batch into a different one that has its id on the target', async () => {
    const storage = temp.open();
    await storage.batches.createBatch(TARGET, { id: 'nightly', namespace: 'team-b', jobs: [{}] });
    const { jobIds } = await storage.batches.createBatch(SOURCE, { id: 'nightly', namespace: 'team-a', jobs: [{}] });
    await rejection(storage.admin.drainNode(SOURCE, TARGET), 'FAILED_PRECONDITION', /different batch with its batch id nightly/);
    expect((await storage.jobStore.getJob(SOURCE, { id: jobIds[0]! })).state).toBe('PENDING');
    await storage.jobStore.updateJobState(SOURCE, { jobId: jobIds[0]!, newState: 'CANCELLED' }); // not left frozen
    expect((await storage.batches.getBatch(TARGET, 'nightly')).counts).toEqual({ PENDING: 1 });
    expectConsistent(storage);
  });

  it('holds the drain lock while it runs, one drain at a time', async () => {
    const storage = temp.open();
    await seed(storage);
    const seen: (number | null)[] = [];
    let second: Promise<unknown> | undefined;
    await storage.admin.drainNode(SOURCE, TARGET, {
      onProgress: () => {
        seen.push(storage.coordination.db.prepare('SELECT holder_lease_id FROM locks WHERE name = ?').pluck().get(DRAIN_LOCK) as number | null);
        second ??= storage.admin.drainNode(SOURCE, 'requester-c').catch((error: unknown) => error);
      },
    });
    expect(seen.every((holder) => typeof holder === 'number')).toBe(true);
    expect(await second).toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/already running/) });
    expect((await storage.lockStore.get(DRAIN_LOCK)).holderLeaseId).toBeNull();
  });

  it('gives a claimed job back to its queue on the target when the claimer’s lease ends', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob(SOURCE, { state: 'QUEUED', queue: 'q' });
    const lease = await storage.leaseStore.grant(60);
    const { job } = await storage.workQueues.claimJob(SOURCE, { queue: 'q', leaseId: lease.id });
    await storage.admin.drainNode(SOURCE, TARGET);
    expect(await storage.jobStore.getJob(TARGET, { id: job!.id })).toMatchObject({ state: 'RUNNING', claim: { leaseId: lease.id } });

    await storage.leaseStore.revoke(lease.id);
    await storage.claims.settled();
    expect(await storage.jobStore.getJob(TARGET, { id: job!.id })).toMatchObject({ state: 'QUEUED', retryCount: 1 });
  });

  it('stops at a job whose name is taken on the target, leaving that job where it was', async () => {
    const storage = temp.open();
    const { job } = await storage.jobStore.createJob(SOURCE, { name: 'nightly', state: 'QUEUED' });
    await storage.jobStore.createJob(TARGET, { name: 'nightly' });
    await rejection(storage.admin.drainNode(SOURCE, TARGET), 'FAILED_PRECONDITION', /its name nightly is taken in namespace default on the target/);
    expect((await storage.jobStore.getJob(SOURCE, { id: job.id })).state).toBe('QUEUED');
    expect((await storage.jobStore.listJobs(TARGET, {})).items).toHaveLength(1);
    expectConsistent(storage);
  });

  it('returns the other claims of an ended lease while one is frozen, and that one once it is freed', async () => {
    const storage = temp.open();
    for (let i = 0; i < 2; i++) await storage.jobStore.createJob(SOURCE, { state: 'QUEUED', queue: 'q' });
    const lease = await storage.leaseStore.grant(60);
    const first = (await storage.workQueues.claimJob(SOURCE, { queue: 'q', leaseId: lease.id })).job!;
    const second = (await storage.workQueues.claimJob(SOURCE, { queue: 'q', leaseId: lease.id })).job!;
    // As an interrupted drain leaves it: the first job frozen, its copy never made.
    const raw = new Database(storage.locations.nodeDatabasePath('requester', SOURCE));
    raw.prepare(`INSERT INTO job_moves (job_id, direction, node_id, batch_id, done, time) VALUES (?, 'out', ?, '', 0, 0)`).run(first.id, TARGET);
    raw.close();

    await storage.leaseStore.revoke(lease.id);
    await storage.claims.settled();
    expect(await storage.jobStore.getJob(SOURCE, { id: second.id })).toMatchObject({ state: 'QUEUED' });
    expect(await storage.jobStore.getJob(SOURCE, { id: first.id })).toMatchObject({ state: 'RUNNING' });

    // Run again, the drain frees the job (nothing of it reached the target), and the return follows.
    await storage.jobStore.createJob(TARGET, {});
    storage.catalogue.setLifecycle(TARGET, 'requester', 'RETIRED');
    await rejection(storage.admin.drainNode(SOURCE, TARGET), 'FAILED_PRECONDITION', /RETIRED/);
    await eventually(async () => (await storage.jobStore.getJob(SOURCE, { id: first.id })).state === 'QUEUED');
  });

  it('refuses bad requests and changes nothing', async () => {
    const storage = temp.open();
    await seed(storage);
    await rejection(storage.admin.drainNode(SOURCE, SOURCE), 'INVALID_ARGUMENT', /into itself/);
    await rejection(storage.admin.drainNode('nobody', TARGET), 'NOT_FOUND');
    await rejection(storage.admin.drainNode(SOURCE, '../x'), 'INVALID_ARGUMENT');
    expect(storage.catalogue.list().map((entry) => entry.lifecycle)).toEqual(['ACTIVE']);
  });
});

describe('retiring a node', () => {
  const temp = useTempStorage('perTest');

  it('is refused while a job or an execution has not ended, and allowed once all have', async () => {
    const storage = temp.open();
    const { job } = await storage.jobStore.createJob(SOURCE, { state: 'QUEUED' });
    await storage.executionStore.createExecution('compute-1', { id: 'x1', jobId: job.id, requesterNodeId: SOURCE });
    await rejection(Promise.resolve().then(() => storage.admin.retireNode(SOURCE)), 'FAILED_PRECONDITION', /1 QUEUED jobs/);
    await rejection(Promise.resolve().then(() => storage.admin.retireNode('compute-1')), 'FAILED_PRECONDITION', /1 CREATED executions/);
    await rejection(Promise.resolve().then(() => storage.admin.retireNode('nobody')), 'NOT_FOUND');
    expect(storage.catalogue.list().every((entry) => entry.lifecycle === 'ACTIVE')).toBe(true);

    await storage.jobStore.updateJobState(SOURCE, { jobId: job.id, newState: 'CANCELLED' });
    expect(storage.admin.retireNode(SOURCE)).toEqual([expect.objectContaining({ nodeId: SOURCE, lifecycle: 'RETIRED' })]);
    await rejection(storage.jobStore.createJob(SOURCE, {}), 'FAILED_PRECONDITION', /RETIRED/);
    expect((await storage.jobStore.getJob(SOURCE, { id: job.id })).state).toBe('CANCELLED');
  });
});
