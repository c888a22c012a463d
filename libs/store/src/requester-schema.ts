import type { Migrations } from './migrations.js';
import { CHECKPOINTS_AND_META } from './shared-schema.js';
import { WORK_QUEUES_AND_BATCHES } from './work-queue-schema.js';
import { JOB_MOVES } from './job-moves-schema.js';

/**
 * The requester database ({node}-requester.db). Volatile job fields live in `jobs`, which every
 * state change rewrites; the spec and labels, which can be large, live in `job_specs` so that a
 * state change never copies them (SQLite rewrites a whole row on every update). Each list filter
 * has an index whose trailing columns give the list order and the keyset cursor.
 */
export const requesterMigrations: Migrations = [
  `
  CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL,
    name          TEXT,
    type          TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    queue         TEXT NOT NULL,
    batch_id      TEXT NOT NULL,
    state         TEXT NOT NULL,
    state_message TEXT NOT NULL,
    retry_count   INTEGER NOT NULL,
    revision      INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    create_time   INTEGER NOT NULL,
    modify_time   INTEGER NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX jobs_by_name ON jobs (namespace, name) WHERE name IS NOT NULL;
  CREATE INDEX jobs_by_create ON jobs (create_time, id);
  CREATE INDEX jobs_by_modify ON jobs (modify_time, id);
  CREATE INDEX jobs_by_state_create ON jobs (state, create_time, id);
  CREATE INDEX jobs_by_state_modify ON jobs (state, modify_time, id);
  CREATE INDEX jobs_by_namespace_create ON jobs (namespace, create_time, id);
  CREATE INDEX jobs_by_queue_create ON jobs (queue, create_time, id);
  CREATE INDEX jobs_by_batch_create ON jobs (batch_id, create_time, id);

  CREATE TABLE job_specs (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    spec   TEXT NOT NULL,
    labels TEXT NOT NULL
  ) STRICT;

  CREATE TABLE job_labels (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX job_labels_by_pair ON job_labels (key, value, job_id);

  CREATE TABLE executions (
    id              TEXT PRIMARY KEY,
    job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    compute_node_id TEXT NOT NULL,
    desired_state   TEXT NOT NULL,
    compute_state   TEXT NOT NULL,
    state_message   TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    create_time     INTEGER NOT NULL,
    modify_time     INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX executions_by_job ON executions (job_id, create_time, id);

  -- The history ("job transactions"): one row per change, written in the change's transaction.
  -- Its rowid is the database-wide revision; AUTOINCREMENT keeps revisions from ever being
  -- reused after old rows are compacted away.
  CREATE TABLE job_history (
    revision       INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         TEXT NOT NULL,
    execution_id   TEXT NOT NULL,
    type           TEXT NOT NULL,
    previous_state TEXT NOT NULL,
    new_state      TEXT NOT NULL,
    message        TEXT NOT NULL,
    time           INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX job_history_by_job ON job_history (job_id, revision);
  CREATE INDEX job_history_by_execution ON job_history (execution_id, revision);

  -- Idempotency keys of creates: a retried create finds the record its first attempt made.
  CREATE TABLE request_ids (
    request_id  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    create_time INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  `
  -- Jobs per state, kept by triggers in the same transaction as every change, so that a restart
  -- knows them without a scan and no write path can forget them. The check compares them with
  -- a GROUP BY over the rows.
  CREATE TABLE job_state_counts (
    state TEXT PRIMARY KEY,
    count INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO job_state_counts (state, count) SELECT state, count(*) FROM jobs GROUP BY state;
  CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_state_counts (state, count) VALUES (new.state, 1)
      ON CONFLICT (state) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_state_counts SET count = count - 1 WHERE state = old.state;
  END;
  CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs WHEN old.state <> new.state BEGIN
    UPDATE job_state_counts SET count = count - 1 WHERE state = old.state;
    INSERT INTO job_state_counts (state, count) VALUES (new.state, 1)
      ON CONFLICT (state) DO UPDATE SET count = count + 1;
  END;
  ${CHECKPOINTS_AND_META}
  `,
  WORK_QUEUES_AND_BATCHES,
  JOB_MOVES,
  `
  -- Most jobs belong to no batch, and most job history rows to no execution: the two indexes
  -- hold only the rows they can find, so a lone CreateJob writes two index entries and two WAL
  -- pages fewer (tools/bench/RESULTS.md, "Partial indexes"). The queries that use them say
  -- batch_id <> '' / execution_id <> '' so that the planner may.
  DROP INDEX job_history_by_execution;
  CREATE INDEX job_history_by_execution ON job_history (execution_id, revision) WHERE execution_id <> '';
  DROP INDEX jobs_by_batch_create;
  CREATE INDEX jobs_by_batch_create ON jobs (batch_id, create_time, id) WHERE batch_id <> '';
  `,
  `
  -- Completed batches by when they completed: retention removes those that completed long ago
  -- and hold no job any more, without reading the batches that have not.
  CREATE INDEX batches_by_complete ON batches (complete_time) WHERE complete_time IS NOT NULL;
  `,
  `
  -- Request ids by the record they name, which a drain moves with its job, and by age: retention
  -- forgets them once older than REQUEST_ID_MEMORY_MS (retention.ts), instead of keeping every
  -- create's id, and every batch's list of job ids, for ever.
  CREATE INDEX request_ids_by_record ON request_ids (record_id);
  CREATE INDEX request_ids_by_create ON request_ids (create_time);
  `,
];
