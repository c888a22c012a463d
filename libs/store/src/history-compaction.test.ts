import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NodeDatabaseKind } from './database-locations.js';
import { compactHistoryInTx } from './history-compaction.js';
import { NodeDatabase } from './node-database.js';
import { openSqlite } from './sqlite-connection.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'node-1';

describe('compactHistoryInTx', () => {
  const temp = useTempStorage();

  /** Compacts through a connection of its own, as retention would run it, and closes it. */
  async function compact(kind: NodeDatabaseKind, throughRevision: number) {
    const file = path.join(temp.dir(), `${NODE}-${kind}.db`);
    const db = new NodeDatabase(openSqlite(file, false), file);
    try {
      return await db.write(() => compactHistoryInTx(db, kind, throughRevision));
    } finally {
      db.close();
    }
  }

  it('removes the history of deleted jobs up to the revision, keeps live jobs’ history, and records the mark', async () => {
    const { jobStore, jobHistory } = temp.open();
    const gone = (await jobStore.createJob(NODE, { id: 'gone' })).job; // 1
    const kept = (await jobStore.createJob(NODE, { id: 'kept' })).job; // 2
    await jobStore.updateJobState(NODE, { jobId: gone.id, newState: 'CANCELLED' }); // 3
    await jobStore.deleteJob(NODE, gone.id); // 4
    const late = (await jobStore.createJob(NODE, { id: 'late' })).job; // 5
    await jobStore.updateJobState(NODE, { jobId: late.id, newState: 'CANCELLED' }); // 6
    await jobStore.deleteJob(NODE, late.id); // 7

    expect(await compact('requester', 5)).toEqual({ compactedRevision: 5, deletedRows: 4 });

    expect(await jobHistory.bounds(NODE)).toEqual({ currentRevision: 7, oldestRevision: 6 });
    const all = await jobStore.getJobHistory(NODE, {});
    // Job "late" was deleted too, but its rows past the mark stay until a later compaction.
    expect(all.items.map((event) => [event.revision, event.jobId])).toEqual([
      [2, kept.id],
      [6, late.id],
      [7, late.id],
    ]);
    const message = await rejection(jobHistory.readPage(NODE, { fromRevision: 5, filter: {}, limit: 10 }), 'OUT_OF_RANGE');
    expect(message).toBe('revision 5 has been compacted; the oldest available revision is 6');
    await rejection(jobHistory.readPage(NODE, { fromRevision: 1, filter: {}, limit: 10 }), 'OUT_OF_RANGE');
    expect((await jobHistory.readPage(NODE, { fromRevision: 6, filter: {}, limit: 10 })).events.map((e) => e.revision)).toEqual([6, 7]);

    // New revisions continue after the removed ones, which are never handed out again.
    const next = (await jobStore.createJob(NODE, {})).job;
    expect(next.revision).toBe(8);
  });

  it('never moves the mark back, and refuses to compact past the current revision', async () => {
    const { jobStore, jobHistory } = temp.open();
    for (let i = 0; i < 4; i++) await jobStore.createJob(NODE, {});
    expect(await compact('requester', 3)).toEqual({ compactedRevision: 3, deletedRows: 0 });
    expect(await compact('requester', 1)).toEqual({ compactedRevision: 3, deletedRows: 0 });
    expect(await compact('requester', 4)).toEqual({ compactedRevision: 4, deletedRows: 0 });
    await expect(compact('requester', 5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('current revision is 4') });
    await expect(compact('requester', -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await jobHistory.bounds(NODE)).toEqual({ currentRevision: 4, oldestRevision: 5 });
    // Every job is alive: its history stays whole.
    expect((await jobStore.getJobHistory(NODE, {})).items).toHaveLength(4);
  });

  it('compacts a compute database’s execution history the same way', async () => {
    const { executionStore, executionHistory } = temp.open();
    const gone = await executionStore.createExecution(NODE, { jobId: 'job-a', requesterNodeId: 'req-1' }); // 1
    await executionStore.updateExecutionState(NODE, { executionId: gone.id, newState: 'BID_REJECTED' }); // 2
    const kept = await executionStore.createExecution(NODE, { jobId: 'job-b', requesterNodeId: 'req-1' }); // 3
    await executionStore.deleteExecution(NODE, gone.id); // 4

    expect(await compact('compute', 4)).toEqual({ compactedRevision: 4, deletedRows: 3 });
    expect(await executionHistory.bounds(NODE)).toEqual({ currentRevision: 4, oldestRevision: 5 });
    expect((await executionStore.getExecutionHistory(NODE, {})).items.map((event) => event.executionId)).toEqual([kept.id]);
    expect(await rejection(executionHistory.readPage(NODE, { fromRevision: 4, filter: {}, limit: 10 }), 'OUT_OF_RANGE')).toContain(
      'oldest available revision is 5',
    );
  });
});
