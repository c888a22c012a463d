/**
 * Requester migration 4: the jobs a drain moves into or out of this database.
 *
 * - An `out` row with `done` = 0 freezes its job: the drain is copying it to `node_id`, and until
 *   the copy has committed there and the job is gone from here, the triggers below refuse every
 *   change to it (UNAVAILABLE, see node-database.ts). So at any instant, even across a crash,
 *   exactly one copy of the job can change: here until it is frozen, there once it is copied.
 * - With `done` = 1 the job is gone from here to `node_id`. Its batch is kept so that the
 *   consistency check knows why a batch's live jobs left without the batch completing.
 * - An `in` row says the job's copy from `node_id` has committed here, so that a drain run again
 *   after a crash skips the copy and only finishes the source's side.
 * A job moved again later (A to B, then back) replaces its row of that direction.
 */
/** A trigger refusing `event` on `table` while the job named by `jobId` is frozen. */
function refusedWhileFrozen(name: string, event: string, table: string, jobId: string): string {
  return `CREATE TRIGGER ${name} BEFORE ${event} ON ${table}
    WHEN EXISTS (SELECT 1 FROM job_moves WHERE job_id = ${jobId} AND direction = 'out' AND done = 0) BEGIN
    SELECT RAISE(ABORT, 'jobkeep: a drain is moving this job to another node; try again in a moment');
  END;`;
}

export const JOB_MOVES = `
  CREATE TABLE job_moves (
    job_id    TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    node_id   TEXT NOT NULL,
    batch_id  TEXT NOT NULL,
    done      INTEGER NOT NULL,
    time      INTEGER NOT NULL,
    PRIMARY KEY (job_id, direction)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX job_moves_out_by_batch ON job_moves (batch_id) WHERE direction = 'out' AND batch_id <> '';
  -- The frozen jobs, which claims pass by: one group of a drain at most, however many moved out.
  CREATE INDEX job_moves_frozen ON job_moves (job_id) WHERE direction = 'out' AND done = 0;

  ${refusedWhileFrozen('jobs_frozen_update', 'UPDATE', 'jobs', 'old.id')}
  ${refusedWhileFrozen('jobs_frozen_delete', 'DELETE', 'jobs', 'old.id')}
  ${refusedWhileFrozen('executions_frozen_insert', 'INSERT', 'executions', 'new.job_id')}
  ${refusedWhileFrozen('executions_frozen_update', 'UPDATE', 'executions', 'old.job_id')}
`;

/** A condition on `jobs.id`: the job is not frozen by a drain. Claims and retention pass frozen jobs by. */
export const NOT_FROZEN = `id NOT IN (SELECT job_id FROM job_moves WHERE direction = 'out' AND done = 0)`;
