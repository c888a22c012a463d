import { appendJobEventsInTx } from './job-events.js';
import type { NewJob } from './job-validation.js';
import type { NodeDatabase } from './node-database.js';
import { RowInserter } from './row-inserter.js';

const JOBS = new RowInserter('jobs', [
  'id', 'namespace', 'name', 'type', 'priority', 'queue', 'batch_id', 'state', 'state_message', 'retry_count', 'revision',
  'version', 'create_time', 'modify_time', 'create_revision', 'dedupe_key', 'max_retries', 'backoff_ms', 'max_backoff_ms', 'held_from',
]);
const JOB_SPECS = new RowInserter('job_specs', ['job_id', 'spec', 'labels']);
const JOB_LABELS = new RowInserter('job_labels', ['job_id', 'key', 'value']);

/**
 * Writes new jobs, checked by the caller, under the ids given: their JOB_CREATED events, then
 * their rows in `jobs`, `job_specs` and `job_labels`, several jobs per statement. Returns their
 * revisions, in order.
 */
export function insertNewJobsInTx(db: NodeDatabase, jobs: readonly { id: string; job: NewJob }[], now: number): number[] {
  const revisions = appendJobEventsInTx(
    db,
    jobs.map(({ id, job }) => ({
      jobId: id,
      executionId: '',
      type: 'JOB_CREATED',
      previousState: '',
      newState: job.state,
      message: job.stateMessage,
      time: now,
    })),
  );
  JOBS.insert(db, jobs.map(({ id, job }, i) => {
    const revision = revisions[i]!;
    const policy = job.retryPolicy;
    return [id, job.namespace, job.name || null, job.type, job.priority, job.queue, job.batchId, job.state, job.stateMessage, 0, revision,
      1, now, now, revision, job.dedupeKey || null, policy.maxRetries, policy.backoffMs, policy.maxBackoffMs,
      job.state === 'HELD' ? 'QUEUED' : null];
  }));
  JOB_SPECS.insert(db, jobs.map(({ id, job }) => [id, job.specJson, JSON.stringify(job.labels)]));
  JOB_LABELS.insert(db, jobs.flatMap(({ id, job }) => labelRows(id, job.labels)));
  return revisions;
}

/** Replaces a job's rows in `job_labels`. */
export function writeLabelsInTx(db: NodeDatabase, jobId: string, labels: Record<string, string>): void {
  db.statement('DELETE FROM job_labels WHERE job_id = ?').run(jobId);
  JOB_LABELS.insert(db, labelRows(jobId, labels));
}

function labelRows(jobId: string, labels: Record<string, string>): unknown[][] {
  return Object.entries(labels).map(([key, value]) => [jobId, key, value]);
}
