/**
 * Requester migration 4: the jobs a drain moved into or out of this database.
 *
 * - An `out` row stands for a job that is gone from here to `node_id`: the drain deleted it once
 *   its copy had committed there. Its batch is kept so that the consistency check knows why a
 *   batch's live jobs vanished without the batch completing.
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
    revision  INTEGER NOT NULL,
    time      INTEGER NOT NULL,
    PRIMARY KEY (job_id, direction)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX job_moves_out_by_batch ON job_moves (batch_id) WHERE direction = 'out' AND batch_id <> '';
`;
