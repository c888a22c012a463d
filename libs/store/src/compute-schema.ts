import type { Migrations } from './migrations.js';
import { CHECKPOINTS_AND_META } from './shared-schema.js';

/**
 * The compute database ({node}-compute.db). As in the requester database, the volatile row
 * (`executions`) is apart from what is written once (the job spec snapshot) or at the end (the
 * run result), and every list filter has an index ending in the list order (modify time, id).
 */
export const computeMigrations: Migrations = [
  `
  CREATE TABLE executions (
    id                TEXT PRIMARY KEY,
    job_id            TEXT NOT NULL,
    requester_node_id TEXT NOT NULL,
    state             TEXT NOT NULL,
    state_message     TEXT NOT NULL,
    revision          INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    modify_time       INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX executions_by_modify ON executions (modify_time, id);
  CREATE INDEX executions_by_state ON executions (state, modify_time, id);
  CREATE INDEX executions_by_job ON executions (job_id, modify_time, id);
  CREATE INDEX executions_by_requester ON executions (requester_node_id, modify_time, id);

  CREATE TABLE execution_specs (
    execution_id TEXT PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    job_spec     TEXT NOT NULL
  ) STRICT;

  CREATE TABLE execution_results (
    execution_id TEXT PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    exit_code    INTEGER NOT NULL,
    stdout_tail  TEXT NOT NULL,
    stderr_tail  TEXT NOT NULL
  ) STRICT;

  -- One row per change, written in the change's transaction; its rowid is the database-wide
  -- revision, never reused (AUTOINCREMENT) after retention removes old rows.
  CREATE TABLE execution_history (
    revision       INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id   TEXT NOT NULL,
    job_id         TEXT NOT NULL,
    type           TEXT NOT NULL,
    previous_state TEXT NOT NULL,
    new_state      TEXT NOT NULL,
    message        TEXT NOT NULL,
    time           INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX execution_history_by_execution ON execution_history (execution_id, revision);
  CREATE INDEX execution_history_by_job ON execution_history (job_id, revision);

  -- Executions per state, kept by triggers in every change's transaction (see job_state_counts).
  CREATE TABLE execution_state_counts (
    state TEXT PRIMARY KEY,
    count INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TRIGGER executions_count_insert AFTER INSERT ON executions BEGIN
    INSERT INTO execution_state_counts (state, count) VALUES (new.state, 1)
      ON CONFLICT (state) DO UPDATE SET count = count + 1;
  END;
  CREATE TRIGGER executions_count_delete AFTER DELETE ON executions BEGIN
    UPDATE execution_state_counts SET count = count - 1 WHERE state = old.state;
  END;
  CREATE TRIGGER executions_count_update AFTER UPDATE OF state ON executions WHEN old.state <> new.state BEGIN
    UPDATE execution_state_counts SET count = count - 1 WHERE state = old.state;
    INSERT INTO execution_state_counts (state, count) VALUES (new.state, 1)
      ON CONFLICT (state) DO UPDATE SET count = count + 1;
  END;

  CREATE TABLE request_ids (
    request_id  TEXT PRIMARY KEY,
    record_id   TEXT NOT NULL,
    create_time INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  ${CHECKPOINTS_AND_META}
  `,
  `
  -- Request ids by age: retention forgets them once older than REQUEST_ID_MEMORY_MS (retention.ts).
  CREATE INDEX request_ids_by_create ON request_ids (create_time);
  `,
];
