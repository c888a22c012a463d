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
  -- The frozen jobs, which claims pass by: a handful at most, however many jobs moved out.
  CREATE INDEX job_moves_frozen ON job_moves (job_id) WHERE direction = 'out' AND done = 0;

  CREATE TRIGGER jobs_frozen_update BEFORE UPDATE ON jobs
    WHEN EXISTS (SELECT 1 FROM job_moves WHERE job_id = old.id AND direction = 'out' AND done = 0) BEGIN
    SELECT RAISE(ABORT, 'jobkeep: a drain is moving this job to another node; try again in a moment');
  END;
  CREATE TRIGGER jobs_frozen_delete BEFORE DELETE ON jobs
    WHEN EXISTS (SELECT 1 FROM job_moves WHERE job_id = old.id AND direction = 'out' AND done = 0) BEGIN
    SELECT RAISE(ABORT, 'jobkeep: a drain is moving this job to another node; try again in a moment');
  END;
  CREATE TRIGGER executions_frozen_insert BEFORE INSERT ON executions
    WHEN EXISTS (SELECT 1 FROM job_moves WHERE job_id = new.job_id AND direction = 'out' AND done = 0) BEGIN
    SELECT RAISE(ABORT, 'jobkeep: a drain is moving this job to another node; try again in a moment');
  END;
  CREATE TRIGGER executions_frozen_update BEFORE UPDATE ON executions
    WHEN EXISTS (SELECT 1 FROM job_moves WHERE job_id = old.job_id AND direction = 'out' AND done = 0) BEGIN
    SELECT RAISE(ABORT, 'jobkeep: a drain is moving this job to another node; try again in a moment');
  END;
`;

/** A condition on `jobs.id`: the job is not frozen by a drain. Claims and retention pass frozen jobs by. */
export const NOT_FROZEN = `id NOT IN (SELECT job_id FROM job_moves WHERE direction = 'out' AND done = 0)`;
