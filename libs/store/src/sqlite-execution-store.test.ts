import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EXECUTION_STATES } from './job-model.js';
import { filesBelow, rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'compute-1';

describe('SqliteExecutionStore', () => {
  const temp = useTempStorage();

  it('creates, gets, moves and deletes an execution, returning it as stored each time', async () => {
    const { executionStore } = temp.open();
    const created = await executionStore.createExecution(NODE, {
      jobId: 'j-7',
      requesterNodeId: 'requester-1',
      jobSpec: { image: 'render:3', frames: [1, 2], limits: { gpu: 1 } },
      stateMessage: 'bid asked',
    });
    expect(created).toMatchObject({
      jobId: 'j-7',
      requesterNodeId: 'requester-1',
      jobSpec: { image: 'render:3', frames: [1, 2], limits: { gpu: 1 } },
      state: 'CREATED',
      stateMessage: 'bid asked',
      runResult: undefined,
    });
    expect(created.id).toMatch(/^e-[0-9a-f-]{36}$/);
    expect(created.revision).toBeGreaterThan(0);
    expect(created.createTime).toBe(created.modifyTime);
    expect(await executionStore.getExecution(NODE, created.id)).toEqual(created);

    const accepted = await executionStore.updateExecutionState(NODE, { executionId: created.id, newState: 'BID_ACCEPTED', expectedRevision: created.revision });
    const running = await executionStore.updateExecutionState(NODE, { executionId: created.id, newState: 'RUNNING', expectedStates: ['BID_ACCEPTED'] });
    expect(running.revision).toBeGreaterThan(accepted.revision);
    const done = await executionStore.updateExecutionState(NODE, {
      executionId: created.id,
      newState: 'COMPLETED',
      message: 'exit 0',
      runResult: { exitCode: 0, stdoutTail: 'rendered 2 frames\n', stderrTail: '' },
    });
    expect(done).toMatchObject({
      state: 'COMPLETED',
      stateMessage: 'exit 0',
      runResult: { exitCode: 0, stdoutTail: 'rendered 2 frames\n', stderrTail: '' },
      jobSpec: created.jobSpec,
      createTime: created.createTime,
    });
    expect(await executionStore.getExecution(NODE, created.id)).toEqual(done);

    const deletedAt = await executionStore.deleteExecution(NODE, created.id, done.revision);
    expect(deletedAt).toBeGreaterThan(done.revision);
    await rejection(executionStore.getExecution(NODE, created.id), 'NOT_FOUND');
  });

  it('returns the first execution to a create retried with the same request_id, never a twin', async () => {
    const { executionStore } = temp.open();
    const first = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', requestId: 'bid-1' });
    expect(await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', requestId: 'bid-1' })).toEqual(first);
    expect((await executionStore.listExecutions(NODE, {})).items).toHaveLength(1);

    await executionStore.updateExecutionState(NODE, { executionId: first.id, newState: 'BID_REJECTED' });
    await executionStore.deleteExecution(NODE, first.id);
    expect(await rejection(executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', requestId: 'bid-1' }), 'ALREADY_EXISTS')).toContain(
      'deleted',
    );
    await executionStore.createExecution(NODE, { id: 'e-fixed', jobId: 'j-1', requesterNodeId: 'r-1' });
    expect(await rejection(executionStore.createExecution(NODE, { id: 'e-fixed', jobId: 'j-2', requesterNodeId: 'r-1' }), 'ALREADY_EXISTS')).toContain('e-fixed');
  });

  it('applies conditions and names the current state and revision when they fail', async () => {
    const { executionStore } = temp.open();
    const execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    const accepted = await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'BID_ACCEPTED' });

    const stale = await rejection(
      executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'RUNNING', expectedRevision: execution.revision }),
      'FAILED_PRECONDITION',
    );
    expect(stale).toContain('BID_ACCEPTED');
    expect(stale).toContain(`revision ${accepted.revision}`);
    const wrongState = await rejection(
      executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'RUNNING', expectedStates: ['CREATED'] }),
      'FAILED_PRECONDITION',
    );
    expect(wrongState).toContain('BID_ACCEPTED');
    expect(wrongState).toContain(`revision ${accepted.revision}`);
    await rejection(executionStore.deleteExecution(NODE, execution.id, execution.revision), 'FAILED_PRECONDITION');
    expect(await executionStore.getExecution(NODE, execution.id)).toEqual(accepted);
  });

  it('validates transitions, never changes a terminal execution and deletes only terminal ones', async () => {
    const { executionStore } = temp.open();
    const execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    expect(await rejection(executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'RUNNING' }), 'FAILED_PRECONDITION')).toContain(
      `CREATED to RUNNING (allowed from CREATED: BID_ACCEPTED, BID_REJECTED, FAILED, CANCELLED); current revision ${execution.revision}`,
    );
    expect(await rejection(executionStore.deleteExecution(NODE, execution.id), 'FAILED_PRECONDITION')).toContain('CREATED');
    for (const state of ['BID_ACCEPTED', 'RUNNING', 'WAITING_VERIFICATION', 'RESULT_ACCEPTED', 'PUBLISHING'] as const) {
      await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: state });
    }
    const cancelled = await executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'CANCELLED', message: 'requester stopped it' });
    for (const newState of ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const) {
      expect(await rejection(executionStore.updateExecutionState(NODE, { executionId: execution.id, newState }), 'FAILED_PRECONDITION')).toContain(
        'CANCELLED is terminal',
      );
    }
    expect(await executionStore.getExecution(NODE, execution.id)).toEqual(cancelled);
    await rejection(executionStore.updateExecutionState(NODE, { executionId: 'e-missing', newState: 'FAILED' }), 'NOT_FOUND');
    await rejection(executionStore.deleteExecution(NODE, 'e-missing'), 'NOT_FOUND');
  });

  it('lets exactly one of many conditional updates fired at once win', async () => {
    const { executionStore } = temp.open();
    const execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    const targets = ['BID_ACCEPTED', 'BID_REJECTED', 'FAILED', 'CANCELLED'] as const;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: targets[i % 4]!, expectedRevision: execution.revision }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
      expect(outcome.reason).toMatchObject({ code: 'FAILED_PRECONDITION' });
    }
    const history = await executionStore.getExecutionHistory(NODE, { executionId: execution.id });
    expect(history.items.map((event) => event.type)).toEqual(['CREATED', 'STATE_CHANGED']);
  });

  it('records every change in the history, in order, with the revisions the records carry', async () => {
    const { executionStore } = temp.open();
    const a = await executionStore.createExecution(NODE, { jobId: 'j-a', requesterNodeId: 'r-1', stateMessage: 'asked' });
    const b = await executionStore.createExecution(NODE, { jobId: 'j-b', requesterNodeId: 'r-1' });
    const accepted = await executionStore.updateExecutionState(NODE, { executionId: a.id, newState: 'BID_ACCEPTED', message: 'capacity free' });
    const rejected = await executionStore.updateExecutionState(NODE, { executionId: b.id, newState: 'BID_REJECTED' });
    const failed = await executionStore.updateExecutionState(NODE, { executionId: a.id, newState: 'FAILED' });
    const deletedAt = await executionStore.deleteExecution(NODE, a.id);

    const ofA = await executionStore.getExecutionHistory(NODE, { executionId: a.id });
    expect(ofA.items.map((event) => [event.type, event.previousState, event.newState, event.revision, event.jobId])).toEqual([
      ['CREATED', '', 'CREATED', a.revision, 'j-a'],
      ['STATE_CHANGED', 'CREATED', 'BID_ACCEPTED', accepted.revision, 'j-a'],
      ['STATE_CHANGED', 'BID_ACCEPTED', 'FAILED', failed.revision, 'j-a'],
      ['DELETED', 'FAILED', '', deletedAt, 'j-a'],
    ]);
    expect(ofA.items.map((event) => event.message)).toEqual(['asked', 'capacity free', '', '']);
    expect(ofA.nextPageToken).toBe('');

    const page1 = await executionStore.getExecutionHistory(NODE, { fromRevision: b.revision, pageSize: 2 });
    expect(page1.items.map((event) => event.revision)).toEqual([b.revision, accepted.revision]);
    const page2 = await executionStore.getExecutionHistory(NODE, { fromRevision: b.revision, pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.items.map((event) => event.revision)).toEqual([rejected.revision, failed.revision]);
    const page3 = await executionStore.getExecutionHistory(NODE, { fromRevision: b.revision, pageSize: 2, pageToken: page2.nextPageToken });
    expect(page3.items.map((event) => event.revision)).toEqual([deletedAt]);
    expect(page3.nextPageToken).toBe('');
    await rejection(executionStore.getExecutionHistory(NODE, { fromRevision: 1, pageToken: page1.nextPageToken }), 'INVALID_ARGUMENT');
  });

  it('counts executions per state, every state listed, at the current revision', async () => {
    const { executionStore } = temp.open();
    const a = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    await executionStore.updateExecutionState(NODE, { executionId: a.id, newState: 'BID_REJECTED' });
    const counters = await executionStore.getCounters(NODE);
    expect(Object.keys(counters.counts)).toEqual([...EXECUTION_STATES]);
    expect(counters.counts).toMatchObject({ CREATED: 1, BID_REJECTED: 1, RUNNING: 0, COMPLETED: 0 });

    const deletedAt = await executionStore.deleteExecution(NODE, a.id);
    const after = await executionStore.getCounters(NODE);
    expect(after).toMatchObject({ revision: deletedAt, counts: { CREATED: 1, BID_REJECTED: 0 } });

    // The revision survives the removal of the history rows that carried it, as retention does.
    const file = path.join(temp.dir(), `${NODE}-compute.db`);
    const raw = new Database(file);
    raw.prepare('DELETE FROM execution_history').run();
    raw.close();
    expect((await executionStore.getCounters(NODE)).revision).toBe(deletedAt);
  });

  it('refuses bad input with INVALID_ARGUMENT and changes nothing', async () => {
    const { executionStore } = temp.open();
    const execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    const before = await executionStore.getExecutionHistory(NODE, {});
    const big = 'x'.repeat(4097);
    const bad: [Promise<unknown>, string][] = [
      [executionStore.createExecution(NODE, { jobId: '', requesterNodeId: 'r-1' }), 'job_id'],
      [executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: '../r' }), 'requester_node_id'],
      [executionStore.createExecution(NODE, { id: 'has space', jobId: 'j-1', requesterNodeId: 'r-1' }), 'execution id'],
      [executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', state: 'RUNNING' }), 'starts in CREATED'],
      [executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', jobSpec: { blob: 'x'.repeat(1024 * 1024) } }), 'job_spec'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'SLEEPING' as 'RUNNING' }), 'new_state'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'FAILED', runResult: { exitCode: 1, stdoutTail: big, stderrTail: '' } }), 'stdout_tail'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'FAILED', runResult: { exitCode: 1, stdoutTail: '', stderrTail: 'é'.repeat(2049) } }), 'stderr_tail'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'FAILED', runResult: { exitCode: 2 ** 40, stdoutTail: '', stderrTail: '' } }), 'exit_code'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'FAILED', expectedRevision: -1 }), 'expected_revision'],
      [executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'FAILED', message: 'm'.repeat(5000) }), 'message'],
      [executionStore.listExecutions(NODE, { pageSize: 5000 }), 'page_size'],
      [executionStore.listExecutions(NODE, { pageToken: 'garbage!' }), 'page_token'],
      [executionStore.listExecutions(NODE, { states: ['NAPPING' as 'RUNNING'] }), 'states'],
      [executionStore.getExecutionHistory(NODE, { fromRevision: 1.5 }), 'from_revision'],
      [executionStore.getExecution(NODE, ''), 'execution id'],
    ];
    for (const [call, fragment] of bad) expect(await rejection(call, 'INVALID_ARGUMENT')).toContain(fragment);
    expect(await executionStore.getExecutionHistory(NODE, {})).toEqual(before);
    expect(await executionStore.getExecution(NODE, execution.id)).toEqual(execution);
  });

  it('keeps tails of exactly 4 KiB', async () => {
    const { executionStore } = temp.open();
    const execution = await executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1' });
    const tail = 'ü'.repeat(2048);
    const failed = await executionStore.updateExecutionState(NODE, {
      executionId: execution.id,
      newState: 'FAILED',
      runResult: { exitCode: -9, stdoutTail: tail, stderrTail: 'y'.repeat(4096) },
    });
    expect(failed.runResult).toEqual({ exitCode: -9, stdoutTail: tail, stderrTail: 'y'.repeat(4096) });
  });

  it('answers reads of an unknown node with NOT_FOUND and creates no file', async () => {
    const { executionStore } = temp.open();
    const before = filesBelow(temp.root());
    await rejection(executionStore.getExecution('never-seen', 'e-1'), 'NOT_FOUND');
    await rejection(executionStore.listExecutions('never-seen', {}), 'NOT_FOUND');
    await rejection(executionStore.getExecutionHistory('never-seen', {}), 'NOT_FOUND');
    await rejection(executionStore.getCounters('never-seen'), 'NOT_FOUND');
    await rejection(executionStore.updateExecutionState('never-seen', { executionId: 'e-1', newState: 'FAILED' }), 'NOT_FOUND');
    await rejection(executionStore.deleteExecution('never-seen', 'e-1'), 'NOT_FOUND');
    await rejection(executionStore.getCounters('../etc'), 'INVALID_ARGUMENT');
    expect(filesBelow(temp.root())).toEqual(before);
  });

  it('keeps executions across a close and a reopen', async () => {
    const first = temp.open();
    const execution = await first.executionStore.createExecution(NODE, { jobId: 'j-1', requesterNodeId: 'r-1', jobSpec: { keep: true } });
    const running = await first.executionStore.updateExecutionState(NODE, { executionId: execution.id, newState: 'BID_ACCEPTED' });
    first.close();
    const second = temp.open();
    expect(await second.executionStore.getExecution(NODE, execution.id)).toEqual(running);
    expect((await second.executionStore.getCounters(NODE)).counts.BID_ACCEPTED).toBe(1);
  });
});
