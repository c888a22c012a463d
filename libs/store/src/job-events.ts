import type { JobEvent } from './job-model.js';
import type { NodeDatabase } from './node-database.js';
import { RowInserter } from './row-inserter.js';

type NewJobEvent = Omit<JobEvent, 'revision' | 'batchId'> & { batchId?: string };

const JOB_HISTORY = new RowInserter('job_history', [
  'job_id', 'execution_id', 'type', 'previous_state', 'new_state', 'message', 'time', 'batch_id',
]);

/** Appends one history row and returns its revision, the database-wide change counter. */
export function appendJobEventInTx(db: NodeDatabase, event: NewJobEvent): number {
  return JOB_HISTORY.insertOne(db, historyRow(event));
}

/** Appends history rows in order and returns their revisions. */
export function appendJobEventsInTx(db: NodeDatabase, events: readonly NewJobEvent[]): number[] {
  return JOB_HISTORY.insertReturningRowids(db, events.map(historyRow));
}

function historyRow(event: NewJobEvent): unknown[] {
  return [event.jobId, event.executionId, event.type, event.previousState, event.newState, event.message, event.time, event.batchId ?? ''];
}
