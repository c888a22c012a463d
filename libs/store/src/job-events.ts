import type { JobEvent } from './job-model.js';
import type { NodeDatabase } from './node-database.js';

/** Appends one history row and returns its revision, the database-wide change counter. */
export function appendJobEventInTx(db: NodeDatabase, event: Omit<JobEvent, 'revision' | 'batchId'> & { batchId?: string }): number {
  const result = db
    .statement(
      `INSERT INTO job_history (job_id, execution_id, type, previous_state, new_state, message, time, batch_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(event.jobId, event.executionId, event.type, event.previousState, event.newState, event.message, event.time, event.batchId ?? '');
  return Number(result.lastInsertRowid);
}
