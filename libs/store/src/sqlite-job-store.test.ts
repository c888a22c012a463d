import { describe, expect, it } from 'vitest';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'requester-1';

describe('SqliteJobStore', () => {
  const temp = useTempStorage();

  it('creates, gets, updates and deletes a job, returning it as stored each time', async () => {
    const { jobStore } = temp.open();
    const created = (await jobStore.createJob(NODE, {
      name: 'nightly',
      namespace: 'etl',
      type: 'BATCH',
      priority: 5,
      labels: { team: 'data', tier: 'gold' },
      queue: 'ingest',
      spec: { image: 'etl:1', args: ['--full'], limits: { cpu: 2 } },
    })).job;
    expect(created).toMatchObject({ name: 'nightly', namespace: 'etl', state: 'PENDING', version: 1, retryCount: 0 });
    expect(created.id).toMatch(/^j-[0-9a-f-]{36}$/);
    expect(created.revision).toBeGreaterThan(0);
    expect(created.createTime).toBe(created.modifyTime);

    expect(await jobStore.getJob(NODE, { id: created.id })).toEqual(created);
    expect(await jobStore.getJob(NODE, { name: 'nightly', namespace: 'etl' })).toEqual(created);

    const updated = await jobStore.updateJob(NODE, {
      jobId: created.id,
      changes: { spec: { image: 'etl:2' }, priority: 9, labels: { team: 'data' } },
      expectedRevision: created.revision,
    });
    expect(updated).toMatchObject({ version: 2, priority: 9, labels: { team: 'data' }, spec: { image: 'etl:2' } });
    expect(updated.revision).toBeGreaterThan(created.revision);

    const relabelled = await jobStore.updateJob(NODE, { jobId: created.id, changes: { queue: 'publish' } });
    expect(relabelled.version).toBe(2); // the spec did not change
    expect(relabelled.queue).toBe('publish');

    await rejection(jobStore.deleteJob(NODE, created.id), 'FAILED_PRECONDITION');
    await jobStore.updateJobState(NODE, { jobId: created.id, newState: 'CANCELLED', message: 'not needed' });
    const deletedAt = await jobStore.deleteJob(NODE, created.id);
    expect(deletedAt).toBeGreaterThan(relabelled.revision);
    await rejection(jobStore.getJob(NODE, { id: created.id }), 'NOT_FOUND');
  });

  it('returns a new job exactly as a read of it returns it, whatever fields the create gave', async () => {
    const { jobStore } = temp.open();
    const inputs = [
      {},
      { state: 'QUEUED' as const, queue: 'ingest', priority: -3, labels: { 'team.io/name': 'dätä', tier: '' } },
      { state: 'HELD' as const, stateMessage: 'waiting for a window', dedupeKey: 'nightly-2026-11-23', type: 'SERVICE' as const },
      { id: 'caller-chosen-1', name: 'named', namespace: 'etl', batchId: 'b-1', requestId: 'request-1' },
      { spec: { image: 'etl:1', args: ['--full', ''], limits: { cpu: 2.5, memory: null }, nested: [{ deep: [true, false] }] } },
      { retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0 }, state: 'QUEUED' as const },
    ];
    for (const input of inputs) {
      const { job, existing } = await jobStore.createJob(NODE, input);
      expect(existing).toBe(false);
      expect(job).toStrictEqual(await jobStore.getJob(NODE, { id: job.id }));
    }
  });

  it('returns the first job for a retried create with the same request_id, never a twin', async () => {
    const { jobStore } = temp.open();
    const first = (await jobStore.createJob(NODE, { name: 'once', requestId: 'req-42' })).job;
    const retry = (await jobStore.createJob(NODE, { name: 'once', requestId: 'req-42' })).job;
    const retryOtherBody = (await jobStore.createJob(NODE, { name: 'other', requestId: 'req-42' })).job;
    expect(retry).toEqual(first);
    expect(retryOtherBody.id).toBe(first.id);
    expect((await jobStore.listJobs(NODE, {})).items).toHaveLength(1);
  });

  it('refuses a second job with the same id or the same name in a namespace', async () => {
    const { jobStore } = temp.open();
    await jobStore.createJob(NODE, { id: 'job-a', name: 'shared' });
    expect(await rejection(jobStore.createJob(NODE, { id: 'job-a' }), 'ALREADY_EXISTS')).toContain('job-a');
    expect(await rejection(jobStore.createJob(NODE, { name: 'shared' }), 'ALREADY_EXISTS')).toContain('shared');
    await expect(jobStore.createJob(NODE, { name: 'shared', namespace: 'other' })).resolves.toMatchObject({ job: { namespace: 'other' }, existing: false });
  });

  it('finds a job by a unique id prefix and calls an ambiguous prefix an error', async () => {
    const { jobStore } = temp.open();
    await jobStore.createJob(NODE, { id: 'abc-123' });
    await jobStore.createJob(NODE, { id: 'abc-456' });
    expect((await jobStore.getJob(NODE, { idPrefix: 'abc-1' })).id).toBe('abc-123');
    const message = await rejection(jobStore.getJob(NODE, { idPrefix: 'abc' }), 'INVALID_ARGUMENT');
    expect(message).toContain('ambiguous');
    expect(message).toContain('abc-123');
    await rejection(jobStore.getJob(NODE, { idPrefix: 'zzz' }), 'NOT_FOUND');
  });

  it('applies conditions and names the current state and revision when they fail', async () => {
    const { jobStore } = temp.open();
    const job = (await jobStore.createJob(NODE, {})).job;
    const queued = await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', expectedStates: ['PENDING'], expectedRevision: job.revision });

    const stale = await rejection(
      jobStore.updateJobState(NODE, { jobId: job.id, newState: 'RUNNING', expectedRevision: job.revision }),
      'FAILED_PRECONDITION',
    );
    expect(stale).toContain('QUEUED');
    expect(stale).toContain(`revision ${queued.revision}`);

    const wrongState = await rejection(
      jobStore.updateJobState(NODE, { jobId: job.id, newState: 'RUNNING', expectedStates: ['PENDING', 'HELD'] }),
      'FAILED_PRECONDITION',
    );
    expect(wrongState).toContain('QUEUED');
    expect(wrongState).toContain(String(queued.revision));
    expect(await jobStore.getJob(NODE, { id: job.id })).toEqual(queued);
  });

  it('validates transitions and never changes a terminal job again', async () => {
    const { jobStore } = temp.open();
    const job = (await jobStore.createJob(NODE, {})).job;
    expect(await rejection(jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED' }), 'FAILED_PRECONDITION')).toContain(
      'PENDING to COMPLETED',
    );
    await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'RUNNING' });
    const retried = await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'QUEUED', message: 'node lost' });
    expect(retried.retryCount).toBe(1);
    await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'RUNNING' });
    const done = await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED' });

    for (const newState of ['RUNNING', 'FAILED', 'PENDING', 'CANCELLED'] as const) {
      const message = await rejection(jobStore.updateJobState(NODE, { jobId: job.id, newState }), 'FAILED_PRECONDITION');
      expect(message).toContain('terminal');
    }
    await rejection(jobStore.updateJob(NODE, { jobId: job.id, changes: { priority: 1 } }), 'FAILED_PRECONDITION');
    await rejection(jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'c1' }), 'FAILED_PRECONDITION');
    expect(await jobStore.getJob(NODE, { id: job.id })).toEqual(done);
  });

  it('records every change in the history, in order, with the revisions the records carry', async () => {
    const { jobStore } = temp.open();
    const job = (await jobStore.createJob(NODE, { state: 'QUEUED' })).job;
    const other = (await jobStore.createJob(NODE, {})).job;
    const running = await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'RUNNING', message: 'claimed' });
    const execution = await jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'compute-7' });
    const bid = await jobStore.updateExecution(NODE, { executionId: execution.id, desiredState: 'RUNNING', computeState: 'BID_ACCEPTED' });
    const updated = await jobStore.updateJob(NODE, { jobId: job.id, changes: { priority: 3 } });
    const completed = await jobStore.updateJobState(NODE, { jobId: job.id, newState: 'COMPLETED', executionId: execution.id });

    const history = await jobStore.getJobHistory(NODE, { jobId: job.id });
    expect(history.items.map((event) => [event.type, event.previousState, event.newState, event.revision])).toEqual([
      ['JOB_CREATED', '', 'QUEUED', job.revision],
      ['JOB_STATE_CHANGED', 'QUEUED', 'RUNNING', running.revision],
      ['EXECUTION_CREATED', '', '', execution.revision],
      ['EXECUTION_UPDATED', '', '', bid.revision],
      ['JOB_UPDATED', 'RUNNING', 'RUNNING', updated.revision],
      ['JOB_STATE_CHANGED', 'RUNNING', 'COMPLETED', completed.revision],
    ]);
    expect(history.items[1]!.message).toBe('claimed');

    const perExecution = await jobStore.getJobHistory(NODE, { jobId: job.id, executionId: execution.id });
    expect(perExecution.items.map((event) => event.revision)).toEqual([execution.revision, bid.revision, completed.revision]);

    const fromRunning = await jobStore.getJobHistory(NODE, { fromRevision: running.revision, pageSize: 2 });
    expect(fromRunning.items.map((event) => event.revision)).toEqual([running.revision, execution.revision]);
    const next = await jobStore.getJobHistory(NODE, { fromRevision: running.revision, pageSize: 2, pageToken: fromRunning.nextPageToken });
    expect(next.items.map((event) => event.revision)).toEqual([bid.revision, updated.revision]);

    const whole = await jobStore.getJobHistory(NODE, {});
    expect(whole.items.map((event) => event.jobId)).toContain(other.id);
    const revisions = whole.items.map((event) => event.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
  });

  it('keeps the requester view of executions with conditional updates', async () => {
    const { jobStore } = temp.open();
    const job = (await jobStore.createJob(NODE, {})).job;
    const first = await jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'compute-1', requestId: 'bid-1' });
    expect(first).toMatchObject({ desiredState: 'PENDING', computeState: 'CREATED', computeNodeId: 'compute-1' });
    expect(await jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'compute-1', requestId: 'bid-1' })).toEqual(first);
    const second = await jobStore.createExecution(NODE, { jobId: job.id, computeNodeId: 'compute-2' });

    const running = await jobStore.updateExecution(NODE, {
      executionId: first.id,
      desiredState: 'RUNNING',
      computeState: 'RUNNING',
      expectedDesiredStates: ['PENDING'],
      expectedRevision: first.revision,
    });
    expect(running).toMatchObject({ desiredState: 'RUNNING', computeState: 'RUNNING' });
    expect(await rejection(jobStore.updateExecution(NODE, { executionId: first.id, computeState: 'FAILED', expectedRevision: first.revision }), 'FAILED_PRECONDITION')).toContain(
      `revision ${running.revision}`,
    );
    await jobStore.updateExecution(NODE, { executionId: first.id, desiredState: 'STOPPED' });
    await rejection(jobStore.updateExecution(NODE, { executionId: first.id, desiredState: 'RUNNING' }), 'FAILED_PRECONDITION');
    await rejection(jobStore.createExecution(NODE, { jobId: 'missing', computeNodeId: 'compute-1' }), 'NOT_FOUND');

    const page1 = await jobStore.listExecutions(NODE, { jobId: job.id, pageSize: 1 });
    const page2 = await jobStore.listExecutions(NODE, { jobId: job.id, pageSize: 1, pageToken: page1.nextPageToken });
    expect([...page1.items, ...page2.items].map((execution) => execution.id)).toEqual([first.id, second.id]);
    expect(page2.nextPageToken).toBe('');
  });

  it('refuses bad input with INVALID_ARGUMENT and changes nothing', async () => {
    const { jobStore } = temp.open();
    const job = (await jobStore.createJob(NODE, {})).job;
    const before = await jobStore.getJobHistory(NODE, {});
    await rejection(jobStore.createJob(NODE, { id: 'has space' }), 'INVALID_ARGUMENT');
    await rejection(jobStore.createJob(NODE, { state: 'RUNNING' }), 'INVALID_ARGUMENT');
    await rejection(jobStore.createJob(NODE, { labels: { '-bad': 'x' } }), 'INVALID_ARGUMENT');
    await rejection(jobStore.createJob(NODE, { spec: { blob: 'x'.repeat(1024 * 1024) } }), 'INVALID_ARGUMENT');
    await rejection(jobStore.createJob(NODE, { priority: 2 ** 40 }), 'INVALID_ARGUMENT');
    await rejection(jobStore.updateJob(NODE, { jobId: job.id, changes: {} }), 'INVALID_ARGUMENT');
    await rejection(jobStore.listJobs(NODE, { pageSize: 5000 }), 'INVALID_ARGUMENT');
    await rejection(jobStore.listJobs(NODE, { pageToken: 'garbage!' }), 'INVALID_ARGUMENT');
    expect(await jobStore.getJobHistory(NODE, {})).toEqual(before);
  });
});
