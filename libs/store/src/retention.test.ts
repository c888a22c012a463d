import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import type { Job, JobState } from './job-model.js';
import { parseRetentionSetting } from './retention-policy.js';
import { useTempStorage } from './test-support/temp-storage.js';

const HOUR = 3_600_000;
const rethrow = (_kind: string, _nodeId: string, error: unknown) => {
  throw error;
};
const NODE = 'node-r';

describe('retention', () => {
  const temp = useTempStorage();

  /** A store whose clock the test sets, with the given policies. */
  function openAt(start: number, job = '', execution = '') {
    const clock = { now: start };
    const storage = temp.open({
      clock: () => clock.now,
      retention: { requester: parseRetentionSetting('job', job), compute: parseRetentionSetting('execution', execution) },
    });
    return { storage, clock };
  }

  it('removes exactly what the policy says from a requester database, and nothing non-terminal', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, 'COMPLETED=delete:1h,CANCELLED=delete:1h,RUNNING=fail:1h,QUEUED=fail:1h');
    const { jobStore } = storage;
    const stepsTo: Record<JobState, JobState[]> = {
      PENDING: [],
      QUEUED: ['QUEUED'],
      RUNNING: ['RUNNING'],
      HELD: ['HELD'],
      COMPLETED: ['RUNNING', 'COMPLETED'],
      FAILED: ['FAILED'],
      CANCELLED: ['CANCELLED'],
    };
    const make = async (state: JobState, name: string): Promise<Job> => {
      let job = (await jobStore.createJob(NODE, { name })).job;
      for (const step of stepsTo[state]) job = await jobStore.updateJobState(NODE, { jobId: job.id, newState: step });
      return job;
    };
    const states = Object.keys(stepsTo) as JobState[];
    const old = new Map<JobState, Job>();
    for (const state of states) old.set(state, await make(state, `old-${state}`));
    // A batch larger than one retention transaction, to cross batch boundaries.
    const oldCompleted: Job[] = [];
    for (let i = 0; i < 1100; i++) oldCompleted.push(await make('COMPLETED', `bulk-${i}`));
    clock.now = t0 + 2 * HOUR;
    const fresh = new Map<JobState, Job>();
    for (const state of states) fresh.set(state, await make(state, `new-${state}`));
    const lastOldRevision = Math.max(...[...old.values(), ...oldCompleted].map((job) => job.revision));

    clock.now = t0 + 2.5 * HOUR;
    const [report] = await storage.retention.runAll(rethrow);
    expect(report).toMatchObject({
      kind: 'requester',
      failed: { RUNNING: 1, QUEUED: 1 },
      deleted: { COMPLETED: 1101, CANCELLED: 1 },
    });
    expect(report!.compactedRevision).toBe(lastOldRevision);

    const remaining = new Map((await jobStore.listJobs(NODE, { pageSize: 1000 })).items.map((job) => [job.name, job]));
    expect([...remaining.keys()].sort()).toEqual(
      ['old-PENDING', 'old-QUEUED', 'old-RUNNING', 'old-HELD', 'old-FAILED', ...states.map((state) => `new-${state}`)].sort(),
    );
    expect(remaining.get('old-RUNNING')).toMatchObject({ state: 'FAILED', stateMessage: expect.stringContaining('retention') });
    expect(remaining.get('old-QUEUED')?.state).toBe('FAILED');
    for (const state of ['PENDING', 'HELD', 'FAILED'] as const) expect(remaining.get(`old-${state}`)).toEqual(old.get(state));
    for (const state of states) expect(remaining.get(`new-${state}`)).toEqual(fresh.get(state));

    // The deleted jobs' history went with them; the live ones kept theirs, and a watch from
    // before the compaction mark is refused with the oldest revision it may start at.
    const deletedHistory = await jobStore.getJobHistory(NODE, { jobId: old.get('COMPLETED')!.id });
    expect(deletedHistory.items).toEqual([]);
    const keptHistory = await jobStore.getJobHistory(NODE, { jobId: old.get('PENDING')!.id });
    expect(keptHistory.items.map((event) => event.type)).toEqual(['JOB_CREATED']);
    const bounds = await storage.jobHistory.bounds(NODE);
    expect(bounds.oldestRevision).toBe(report!.compactedRevision! + 1);

    storage.close();
    expect(checkNodeDatabase('requester', path.join(temp.dir(), `${NODE}-requester.db`))).toEqual([]);
  });

  it('keeps everything by default and does not even open the databases', async () => {
    const { storage, clock } = openAt(Date.UTC(2026, 5, 1));
    const job = (await storage.jobStore.createJob(NODE, {})).job;
    await storage.jobStore.updateJobState(NODE, { jobId: job.id, newState: 'CANCELLED' });
    clock.now += 365 * 24 * HOUR;
    expect(storage.retention.active).toBe(false);
    expect(await storage.retention.runAll(rethrow)).toEqual([]);
    expect((await storage.jobStore.listJobs(NODE, {})).items).toHaveLength(1);
  });

  it('removes exactly what the policy says from a compute database', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, '', 'COMPLETED=delete:1d,BID_REJECTED=delete:1d,RUNNING=fail:6h');
    const { executionStore } = storage;
    const make = async (steps: ('BID_ACCEPTED' | 'BID_REJECTED' | 'RUNNING' | 'COMPLETED')[]) => {
      let execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'req-1' });
      for (const newState of steps) execution = await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState });
      return execution;
    };
    const oldCompleted = await make(['BID_ACCEPTED', 'RUNNING', 'COMPLETED']);
    const oldRejected = await make(['BID_REJECTED']);
    const oldRunning = await make(['BID_ACCEPTED', 'RUNNING']);
    const oldCreated = await make([]);
    clock.now = t0 + 23 * HOUR;
    const recentCompleted = await make(['BID_ACCEPTED', 'RUNNING', 'COMPLETED']);
    const recentRunning = await make(['BID_ACCEPTED', 'RUNNING']);

    clock.now = t0 + 25 * HOUR;
    const reports = await storage.retention.runAll(rethrow);
    expect(reports).toEqual([expect.objectContaining({ kind: 'compute', failed: { RUNNING: 1 }, deleted: { COMPLETED: 1, BID_REJECTED: 1 } })]);
    for (const gone of [oldCompleted, oldRejected]) {
      await expect(executionStore.getExecution(NODE, gone.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await executionStore.getExecution(NODE, oldRunning.id)).state).toBe('FAILED');
    expect(await executionStore.getExecution(NODE, oldCreated.id)).toEqual(oldCreated);
    expect(await executionStore.getExecution(NODE, recentCompleted.id)).toEqual(recentCompleted);
    expect(await executionStore.getExecution(NODE, recentRunning.id)).toEqual(recentRunning);
    const counters = await executionStore.getCounters(NODE);
    expect(counters.counts).toMatchObject({ COMPLETED: 1, RUNNING: 1, FAILED: 1, CREATED: 1, BID_REJECTED: 0 });
    storage.close();
    expect(checkNodeDatabase('compute', path.join(temp.dir(), `${NODE}-compute.db`))).toEqual([]);
  });

  it('goes on to the next database when one fails, and says which', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, 'CANCELLED=delete:1h');
    for (const node of ['a-too-new', 'b-fine']) {
      const job = (await storage.jobStore.createJob(node, {})).job;
      await storage.jobStore.updateJobState(node, { jobId: job.id, newState: 'CANCELLED' });
    }
    storage.close();
    const raw = new Database(path.join(temp.dir(), 'a-too-new-requester.db'));
    raw.pragma('user_version = 99');
    raw.close();

    const reopened = temp.open({ clock: () => clock.now, retention: { requester: parseRetentionSetting('job', 'CANCELLED=delete:1h'), compute: {} } });
    clock.now = t0 + 2 * HOUR;
    const failures: string[] = [];
    const reports = await reopened.retention.runAll((_kind, nodeId, error) => failures.push(`${nodeId}: ${(error as Error).message}`));
    expect(failures).toEqual([expect.stringMatching(/^a-too-new: .*schema version 99/)]);
    expect(reports).toEqual([expect.objectContaining({ nodeId: 'b-fine', deleted: { CANCELLED: 1 } })]);
  });

  it('removes a batch once it completed as long ago as the shortest delete rule and holds no job, and a dry run says so first', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, 'COMPLETED=delete:1h,CANCELLED=delete:2h,RUNNING=fail:1h');
    const { jobStore, batches } = storage;
    const batchOf = async (ends: JobState[], requestId = '') => {
      const created = await batches.createBatch(NODE, { jobs: ends.map(() => ({ state: 'QUEUED' as const })), requestId });
      for (const [i, end] of ends.entries()) {
        if (end === 'COMPLETED') await jobStore.updateJobState(NODE, { jobId: created.jobIds[i]!, newState: 'RUNNING' });
        if (end !== 'QUEUED') await jobStore.updateJobState(NODE, { jobId: created.jobIds[i]!, newState: end });
      }
      return created.batch.id;
    };
    const done = await batchOf(['COMPLETED', 'COMPLETED'], 'req-done');
    const live = await batchOf(['COMPLETED', 'QUEUED']); // never complete: kept
    const mixed = await batchOf(['COMPLETED', 'CANCELLED']); // its CANCELLED job outlives the COMPLETED one
    const running = await batchOf(['COMPLETED', 'RUNNING']); // failed by this pass, stamped now: kept
    clock.now = t0 + 1.5 * HOUR;
    const recent = await batchOf(['COMPLETED']); // completed too lately
    const ids = async () => (await batches.listBatches(NODE, { pageSize: 10 })).items.map((batch) => batch.id).sort();

    const [preview] = await storage.retention.runAll(rethrow, { dryRun: true });
    expect(preview).toMatchObject({ deleted: { COMPLETED: 5 }, failed: { RUNNING: 1 }, batchesDeleted: 1 });
    expect(await ids()).toEqual([done, live, mixed, running, recent].sort());
    expect(await storage.retention.runAll(rethrow)).toEqual([preview]);
    expect(await ids()).toEqual([live, mixed, running, recent].sort());
    await expect(batches.getBatch(NODE, done)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A retried CreateBatch finds its request id, and says what became of its batch.
    await expect(batches.createBatch(NODE, { jobs: [{}], requestId: 'req-done' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      message: `request_id req-done created batch ${done}, which has since been deleted`,
    });

    for (const [hours, deleted, left] of [
      [2.5, { CANCELLED: 1 }, [live, running, recent]],
      [3.5, { COMPLETED: 1 }, [live, running]],
    ] as const) {
      clock.now = t0 + hours * HOUR;
      const [later] = await storage.retention.runAll(rethrow, { dryRun: true });
      expect(later).toMatchObject({ deleted, batchesDeleted: 1 });
      expect(await storage.retention.runAll(rethrow)).toEqual([later]);
      expect(await ids()).toEqual([...left].sort());
    }
    storage.close();
    const file = path.join(temp.dir(), `${NODE}-requester.db`);
    expect(checkNodeDatabase('requester', file)).toEqual([]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT DISTINCT batch_id FROM batch_state_counts ORDER BY 1').all()).toEqual([live, running].sort().map((id) => ({ batch_id: id })));
    db.close();
  });

  it('forgets the request ids of creates a day old, in both kinds of database, so that a create retried later is a new one', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, 'COMPLETED=delete:7d', 'COMPLETED=delete:7d');
    const { jobStore, batches, executionStore } = storage;
    const createJob = async (requestId: string) => (await jobStore.createJob(NODE, { requestId })).job.id;
    const createExecution = async (requestId: string) => (await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r', requestId })).id;
    // More than one retention transaction of them.
    const old: string[] = [];
    for (let i = 0; i < 520; i++) old.push(await createJob(`old-${i}`));
    const oldBatch = (await batches.createBatch(NODE, { jobs: [{}, {}], requestId: 'old-batch' })).batch.id;
    const oldExecution = await createExecution('old-execution');
    // 23 hours old at the pass, against the old ones' 25: the pass keeps a day of them, no less.
    clock.now = t0 + 2 * HOUR;
    const recent = await createJob('recent');
    const recentExecution = await createExecution('recent-execution');

    clock.now = t0 + 25 * HOUR;
    const preview = await storage.retention.runAll(rethrow, { dryRun: true });
    expect(preview).toEqual([
      expect.objectContaining({ kind: 'compute', requestIdsRemoved: 1, deleted: {} }),
      expect.objectContaining({ kind: 'requester', requestIdsRemoved: 521, deleted: {}, batchesDeleted: 0 }),
    ]);
    expect(await storage.retention.runAll(rethrow)).toEqual(preview);

    // A day-old request id is free again; a younger one still answers with its first create.
    expect(await createJob('recent')).toBe(recent);
    expect(await createExecution('recent-execution')).toBe(recentExecution);
    const again = await createJob('old-0');
    expect(again).not.toBe(old[0]);
    expect((await batches.createBatch(NODE, { jobs: [{}], requestId: 'old-batch' })).batch.id).not.toBe(oldBatch);
    expect(await createExecution('old-execution')).not.toBe(oldExecution);
    // Only the request ids went: the records they created are all still there.
    expect((await jobStore.getJob(NODE, { id: old[519]! })).id).toBe(old[519]);
    expect((await executionStore.getExecution(NODE, oldExecution)).id).toBe(oldExecution);
    expect(await storage.retention.runAll(rethrow, { dryRun: true })).toEqual([
      expect.objectContaining({ kind: 'compute', requestIdsRemoved: 0 }),
      expect.objectContaining({ kind: 'requester', requestIdsRemoved: 0 }),
    ]);
    storage.close();
    for (const kind of ['requester', 'compute'] as const) expect(checkNodeDatabase(kind, path.join(temp.dir(), `${NODE}-${kind}.db`))).toEqual([]);
  });

  it('reports in a dry run exactly what a real run then does, and writes nothing', async () => {
    const t0 = Date.UTC(2026, 5, 1);
    const { storage, clock } = openAt(t0, 'CANCELLED=delete:1h,COMPLETED=delete:1h,RUNNING=fail:1h', 'COMPLETED=delete:1h,RUNNING=fail:1h');
    const { jobStore, executionStore } = storage;
    const job = async (...steps: JobState[]) => {
      const created = (await jobStore.createJob(NODE, {})).job;
      for (const newState of steps) await jobStore.updateJobState(NODE, { jobId: created.id, newState });
      return created.id;
    };
    // More than one retention batch, a job deleted by hand (its history goes at the compaction),
    // and executions, so that every count of the report is exercised.
    for (let i = 0; i < 520; i++) await job('CANCELLED');
    await jobStore.deleteJob(NODE, await job('CANCELLED'));
    const running = await job('RUNNING');
    await jobStore.createExecution(NODE, { jobId: running, computeNodeId: NODE });
    await job('RUNNING', 'COMPLETED');
    for (const steps of [['BID_ACCEPTED', 'RUNNING', 'COMPLETED'], ['BID_ACCEPTED', 'RUNNING']] as const) {
      const execution = await executionStore.createExecution(NODE, { jobId: running, requesterNodeId: NODE });
      for (const newState of steps) await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState });
    }
    clock.now = t0 + 2 * HOUR;
    await job('CANCELLED');

    const files = ['requester', 'compute'].flatMap((kind) => [`${NODE}-${kind}.db`, `${NODE}-${kind}.db-wal`]).map((name) => path.join(temp.dir(), name));
    const bytes = () => files.map((file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    const before = bytes();
    const dryRun = await storage.retention.runAll(rethrow, { dryRun: true });
    expect(bytes()).toEqual(before);
    expect(dryRun).toEqual([
      expect.objectContaining({ kind: 'compute', failed: { RUNNING: 1 }, deleted: { COMPLETED: 1 }, historyRowsRemoved: 4 }),
      expect.objectContaining({ kind: 'requester', failed: { RUNNING: 1 }, deleted: { CANCELLED: 520, COMPLETED: 1 } }),
    ]);
    expect(await storage.retention.runOne('requester', NODE, { dryRun: true })).toEqual(dryRun[1]);
    expect(await storage.retention.runAll(rethrow)).toEqual(dryRun);
  });
});
