/**
 * Tables both kinds of node database have, written into each kind's migrations.
 * - `checkpoints`: named blobs a node saves and reads back after a restart; each has its own
 *   revision, so that writing one never shows up in the record history.
 * - `store_meta`: `compacted_revision`, the highest history revision retention may have
 *   removed; a watch cannot start at or below it.
 */
export const CHECKPOINTS_AND_META = `
  CREATE TABLE checkpoints (
    name        TEXT NOT NULL UNIQUE,
    data        BLOB NOT NULL,
    revision    INTEGER NOT NULL,
    modify_time INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO store_meta (key, value) VALUES ('compacted_revision', 0);
`;
