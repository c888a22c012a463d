import { describe, expect, it } from 'vitest';
import type { HistoryEvent, HistoryFeed, HistoryFilter } from './history-feed.js';
import type { Storage } from './storage.js';
import { filesBelow, rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'node-1';

/** Every matching event from `from`, read in pages of `limit` rows, and the pages' ends. */
async function readAll<E extends HistoryEvent, F extends HistoryFilter>(
  feed: HistoryFeed<E, F>,
  from: number,
  filter: F,
  limit: number,
): Promise<{ revisions: number[]; pages: number }> {
  const revisions: number[] = [];
  let pages = 0;
  for (let next = from; ; pages++) {
    const page = await feed.readPage(NODE, { fromRevision: next, filter, limit });
    revisions.push(...page.events.map((event) => event.revision));
    expect(page.nextRevision).toBeGreaterThan(next);
    next = page.nextRevision;
    if (next > page.currentRevision) return { revisions, pages: pages + 1 };
  }
}

/** Two jobs through a few states, an execution, and a deletion: 9 revisions. */
async function writeHistory(storage: Storage): Promise<{ a: string; b: string }> {
  const { jobStore } = storage;
  const a = (await jobStore.createJob(NODE, { id: 'job-a', state: 'QUEUED' })).job; // 1
  const b = (await jobStore.createJob(NODE, { id: 'job-b' })).job; // 2
  await jobStore.updateJobState(NODE, { jobId: a.id, newState: 'RUNNING' }); // 3
  await jobStore.createExecution(NODE, { jobId: a.id, computeNodeId: 'compute-1' }); // 4
  await jobStore.updateJob(NODE, { jobId: b.id, changes: { priority: 3 } }); // 5
  await jobStore.updateJobState(NODE, { jobId: a.id, newState: 'COMPLETED' }); // 6
  await jobStore.updateJobState(NODE, { jobId: b.id, newState: 'CANCELLED' }); // 7
  await jobStore.deleteJob(NODE, b.id); // 8
  await jobStore.createJob(NODE, { id: 'job-c', state: 'HELD' }); // 9
  return { a: a.id, b: b.id };
}

describe('SqliteHistoryFeed', () => {
  const temp = useTempStorage();

  it('answers NOT_FOUND for a node without a database, creating nothing', async () => {
    const storage = temp.open();
    const before = filesBelow(temp.root());
    await rejection(storage.jobHistory.bounds(NODE), 'NOT_FOUND');
    await rejection(storage.jobHistory.readPage(NODE, { fromRevision: 1, filter: {}, limit: 10 }), 'NOT_FOUND');
    await rejection(storage.executionHistory.bounds(NODE), 'NOT_FOUND');
    expect(filesBelow(temp.root())).toEqual(before);
  });

  it('reads the whole history in pages of any size, in order, with nothing skipped or repeated', async () => {
    const storage = temp.open();
    await writeHistory(storage);
    expect(await storage.jobHistory.bounds(NODE)).toEqual({ currentRevision: 9, oldestRevision: 1 });
    for (const limit of [1, 2, 3, 4, 9, 10, 1000]) {
      const { revisions } = await readAll(storage.jobHistory, 1, {}, limit);
      expect(revisions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    expect((await readAll(storage.jobHistory, 6, {}, 2)).revisions).toEqual([6, 7, 8, 9]);
  });

  it('filters by type, new state and job, while rows that do not match still move the cursor', async () => {
    const storage = temp.open();
    const { a, b } = await writeHistory(storage);
    const feed = storage.jobHistory;
    expect((await readAll(feed, 1, { types: ['JOB_CREATED'] }, 2)).revisions).toEqual([1, 2, 9]);
    expect((await readAll(feed, 1, { newStates: ['RUNNING', 'CANCELLED'] }, 2)).revisions).toEqual([3, 7]);
    expect((await readAll(feed, 1, { jobId: a }, 2)).revisions).toEqual([1, 3, 4, 6]);
    expect((await readAll(feed, 3, { jobId: b, types: ['JOB_STATE_CHANGED', 'JOB_DELETED'] }, 1)).revisions).toEqual([7, 8]);
    // A filter nothing matches still reaches the end, a page at a time.
    const none = await readAll(feed, 1, { types: ['EXECUTION_UPDATED'] }, 4);
    expect(none).toEqual({ revisions: [], pages: 3 });

    const page = await feed.readPage(NODE, { fromRevision: 1, filter: { types: ['JOB_DELETED'] }, limit: 5 });
    expect(page).toEqual({ events: [], nextRevision: 6, currentRevision: 9 });
  });

  it('returns an empty page past the current revision, never moving the cursor back', async () => {
    const storage = temp.open();
    await writeHistory(storage);
    expect(await storage.jobHistory.readPage(NODE, { fromRevision: 50, filter: {}, limit: 10 })).toEqual({
      events: [],
      nextRevision: 50,
      currentRevision: 9,
    });
    expect(await storage.jobHistory.readPage(NODE, { fromRevision: 10, filter: {}, limit: 10 })).toEqual({
      events: [],
      nextRevision: 10,
      currentRevision: 9,
    });
  });

  it('refuses bad pages and filters with INVALID_ARGUMENT', async () => {
    const storage = temp.open();
    await writeHistory(storage);
    const feed = storage.jobHistory;
    await rejection(feed.readPage(NODE, { fromRevision: 0, filter: {}, limit: 10 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage(NODE, { fromRevision: 1, filter: {}, limit: 0 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage(NODE, { fromRevision: 1, filter: {}, limit: 5000 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage(NODE, { fromRevision: 1, filter: { types: ['BOGUS' as never] }, limit: 5 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage(NODE, { fromRevision: 1, filter: { newStates: ['DONE' as never] }, limit: 5 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage(NODE, { fromRevision: 1, filter: { jobId: '../x' }, limit: 5 }), 'INVALID_ARGUMENT');
    await rejection(feed.readPage('../x', { fromRevision: 1, filter: {}, limit: 5 }), 'INVALID_ARGUMENT');
    expect(() => feed.onCommit('../x', () => {})).toThrow(/node_id/);
  });

  it('reads a compute database’s execution history the same way', async () => {
    const storage = temp.open();
    const { executionStore, executionHistory } = storage;
    const first = await executionStore.createExecution(NODE, { jobId: 'job-a', requesterNodeId: 'req-1' });
    const second = await executionStore.createExecution(NODE, { jobId: 'job-b', requesterNodeId: 'req-1' });
    await executionStore.updateExecutionState(NODE, { executionId: first.id, newState: 'BID_ACCEPTED' });
    await executionStore.updateExecutionState(NODE, { executionId: second.id, newState: 'BID_REJECTED' });
    await executionStore.deleteExecution(NODE, second.id);

    expect(await executionHistory.bounds(NODE)).toEqual({ currentRevision: 5, oldestRevision: 1 });
    expect((await readAll(executionHistory, 1, {}, 2)).revisions).toEqual([1, 2, 3, 4, 5]);
    expect((await readAll(executionHistory, 1, { jobId: 'job-b' }, 1)).revisions).toEqual([2, 4, 5]);
    expect((await readAll(executionHistory, 1, { types: ['STATE_CHANGED'], newStates: ['BID_ACCEPTED'] }, 3)).revisions).toEqual([3]);
    const page = await executionHistory.readPage(NODE, { fromRevision: 5, filter: {}, limit: 10 });
    expect(page.events).toEqual([expect.objectContaining({ type: 'DELETED', executionId: second.id, jobId: 'job-b', newState: '' })]);
  });
});
