/**
 * Requester migration 3: work queues, claims, retries, holds, dedupe keys and batches.
 *
 * - `create_revision` is a job's age: the revision of its creation, unique and increasing, so
 *   that "oldest first" is an exact order even among jobs created in the same millisecond.
 * - `jobs_claim_order` holds exactly the QUEUED jobs that may be claimed, in the order ClaimJob
 *   hands them out, so the head of a queue is its first entry. A job waiting out a backoff
 *   (`in_backoff` = 1) is kept in `jobs_in_backoff` by the time it may run again instead; a
 *   claim first moves the jobs whose time has come from one index to the other. So a mass of
 *   jobs in backoff costs a claim nothing, instead of a skip over each of them.
 * - A claim is the lease and the revision (`claim_token`) of the ClaimJob that took the job.
 * - `held_from` is the state a HELD job returns to when released.
 * - `jobs_by_dedupe_key` makes a dedupe key unique among the namespace's live jobs only: a
 *   job leaves the index when it reaches a terminal state, and its key is free again.
 * - `batch_state_counts` is kept by triggers, in the transaction of every job change, as
 *   `job_state_counts` is. Completion is decided by the write paths (see batch-writes.ts).
 */
export const WORK_QUEUES_AND_BATCHES = `
  ALTER TABLE jobs ADD COLUMN create_revision INTEGER NOT NULL DEFAULT 0;
  UPDATE jobs SET create_revision = coalesce(
    (SELECT min(h.revision) FROM job_history h WHERE h.job_id = jobs.id AND h.type = 'JOB_CREATED'), revision);
  ALTER TABLE jobs ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 3;
  ALTER TABLE jobs ADD COLUMN backoff_ms INTEGER NOT NULL DEFAULT 1000;
  ALTER TABLE jobs ADD COLUMN max_backoff_ms INTEGER NOT NULL DEFAULT 300000;
  ALTER TABLE jobs ADD COLUMN retry_time INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN in_backoff INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN last_successful_queue TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN held_from TEXT;
  ALTER TABLE jobs ADD COLUMN claim_lease_id INTEGER;
  ALTER TABLE jobs ADD COLUMN claim_token INTEGER;
  ALTER TABLE jobs ADD COLUMN claim_worker TEXT;
  ALTER TABLE jobs ADD COLUMN claim_time INTEGER;
  ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;

  CREATE INDEX jobs_claim_order ON jobs (queue, priority DESC, create_revision) WHERE state = 'QUEUED' AND in_backoff = 0;
  CREATE INDEX jobs_in_backoff ON jobs (queue, retry_time) WHERE state = 'QUEUED' AND in_backoff = 1;
  CREATE INDEX jobs_by_claim_lease ON jobs (claim_lease_id) WHERE claim_lease_id IS NOT NULL;
  CREATE UNIQUE INDEX jobs_by_dedupe_key ON jobs (namespace, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state NOT IN ('COMPLETED', 'FAILED', 'CANCELLED');
  CREATE INDEX jobs_by_batch_state ON jobs (batch_id, state, create_revision) WHERE batch_id <> '';

  ALTER TABLE job_history ADD COLUMN batch_id TEXT NOT NULL DEFAULT '';
  -- What a create answered, when that is more than its record (a batch's job ids): a retry
  -- with the same request_id answers the same.
  ALTER TABLE request_ids ADD COLUMN response TEXT;

  CREATE TABLE queue_holds (
    queue     TEXT PRIMARY KEY,
    message   TEXT NOT NULL,
    hold_time INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE batches (
    id                TEXT PRIMARY KEY,
    namespace         TEXT NOT NULL,
    labels            TEXT NOT NULL,
    create_time       INTEGER NOT NULL,
    complete_revision INTEGER,
    complete_time     INTEGER
  ) STRICT;
  CREATE INDEX batches_by_create ON batches (create_time, id);
  CREATE INDEX batches_by_namespace_create ON batches (namespace, create_time, id);
  -- Jobs that named a batch before batches existed get one.
  INSERT INTO batches (id, namespace, labels, create_time)
    SELECT batch_id, min(namespace), '{}', min(create_time) FROM jobs WHERE batch_id <> '' GROUP BY batch_id;
  -- Those whose jobs had all ended are complete, as of their last job's change.
  UPDATE batches SET
    complete_revision = (SELECT max(revision) FROM jobs WHERE batch_id = batches.id),
    complete_time = (SELECT max(modify_time) FROM jobs WHERE batch_id = batches.id)
  WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = batches.id AND state IN ('PENDING', 'QUEUED', 'RUNNING', 'HELD'));

  CREATE TABLE batch_state_counts (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    state    TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (batch_id, state)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO batch_state_counts (batch_id, state, count)
    SELECT batch_id, state, count(*) FROM jobs WHERE batch_id <> '' GROUP BY batch_id, state;
  CREATE TRIGGER jobs_batch_count_insert AFTER INSERT ON jobs WHEN new.batch_id <> '' BEGIN
    INSERT INTO batch_state_counts (batch_id, state, count) VALUES (new.batch_id, new.state, 1)
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER jobs_batch_count_delete AFTER DELETE ON jobs WHEN old.batch_id <> '' BEGIN
    UPDATE batch_state_counts SET count = count - 1 WHERE batch_id = old.batch_id AND state = old.state;
  END;
  CREATE TRIGGER jobs_batch_count_update AFTER UPDATE OF state, batch_id ON jobs
    WHEN old.state <> new.state OR old.batch_id <> new.batch_id BEGIN
    UPDATE batch_state_counts SET count = count - 1 WHERE batch_id = old.batch_id AND state = old.state;
    INSERT INTO batch_state_counts (batch_id, state, count) SELECT new.batch_id, new.state, 1 WHERE new.batch_id <> ''
      ON CONFLICT (batch_id, state) DO UPDATE SET count = count + 1;
  END;
`;
