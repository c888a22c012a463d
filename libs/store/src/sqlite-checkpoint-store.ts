import { failedPrecondition, isJobkeepError, notFound } from '@jobkeep/errors';
import type { Checkpoint, CheckpointInfo, CheckpointQuery, CheckpointStore, PutCheckpointInput } from './checkpoint-store.js';
import { checkCheckpointData, checkCheckpointName, checkCheckpointPrefix, checkDatabaseKind } from './checkpoint-validation.js';
import type { DatabasePool } from './database-pool.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { checkRevision } from './execution-validation.js';
import { checkNodeId } from './identifiers.js';
import { pageOf } from './job-reads.js';
import type { Page } from './job-store.js';
import type { NodeDatabase } from './node-database.js';
import { checkPageSize, decodePageToken, queryFingerprint } from './page-token.js';
import type { StoreLimits } from './store-limits.js';

interface CheckpointRow {
  name: string;
  data: Buffer;
  revision: number;
  modify_time: number;
}

function checkpointFromRow(row: CheckpointRow): Checkpoint {
  return {
    name: row.name,
    // A plain view of SQLite's buffer: callers get the type the interface promises, no copy.
    data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
    revision: row.revision,
    modifyTime: row.modify_time,
  };
}

function selectCheckpoint(db: NodeDatabase, name: string): Checkpoint | undefined {
  const row = db.statement('SELECT name, data, revision, modify_time FROM checkpoints WHERE name = ?').get(name) as
    | CheckpointRow
    | undefined;
  return row === undefined ? undefined : checkpointFromRow(row);
}

/** A put once its input is checked. */
interface CheckedPut {
  name: string;
  data: Uint8Array;
  expectedRevision: number | undefined;
}

function notAtExpectedRevision(name: string, current: number | undefined, expected: number) {
  return failedPrecondition(
    current === undefined
      ? `checkpoint ${name} does not exist (current revision 0), not at the expected revision ${expected}`
      : expected === 0
        ? `checkpoint ${name} already exists at revision ${current}; expected revision 0 means it must not exist yet`
        : `checkpoint ${name} is at revision ${current}, not at the expected revision ${expected}`,
  );
}

export function putCheckpointInTx(db: NodeDatabase, input: CheckedPut, now: number): Checkpoint {
  const current = db.statement('SELECT revision FROM checkpoints WHERE name = ?').get(input.name) as
    | { revision: number }
    | undefined;
  const expected = input.expectedRevision;
  if (expected !== undefined && expected !== (current?.revision ?? 0)) throw notAtExpectedRevision(input.name, current?.revision, expected);
  db.statement(
    `INSERT INTO checkpoints (name, data, revision, modify_time) VALUES (?, ?, 1, ?)
     ON CONFLICT (name) DO UPDATE SET data = excluded.data, revision = revision + 1, modify_time = excluded.modify_time`,
  ).run(input.name, Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength), now);
  return selectCheckpoint(db, input.name)!;
}

/**
 * Checkpoints on SQLite, in the table both kinds of node database have. Inputs are checked
 * before any file is touched; each call is one transaction.
 */
export class SqliteCheckpointStore implements CheckpointStore {
  constructor(
    private readonly pool: DatabasePool,
    private readonly limits: Pick<StoreLimits, 'maxBlobBytes'>,
    private readonly now: () => number = Date.now,
  ) {}

  async putCheckpoint(nodeId: string, kind: NodeDatabaseKind, input: PutCheckpointInput): Promise<Checkpoint> {
    checkNodeId(nodeId);
    const checked: CheckedPut = {
      name: checkCheckpointName(input.name),
      data: checkCheckpointData(input.data, this.limits.maxBlobBytes),
      expectedRevision: input.expectedRevision === undefined ? undefined : checkRevision('expected_revision', input.expectedRevision),
    };
    const expected = checked.expectedRevision;
    // Only a put that an empty database satisfies may create the node's database: one expecting
    // an existing checkpoint fails there, and must not leave a new database behind.
    const mayCreate = expected === undefined || expected === 0;
    let db: NodeDatabase;
    try {
      db = this.pool.get(checkDatabaseKind(kind), nodeId, mayCreate);
    } catch (error) {
      if (!mayCreate && isJobkeepError(error, 'NOT_FOUND')) throw notAtExpectedRevision(checked.name, undefined, expected);
      throw error;
    }
    return db.write(() => putCheckpointInTx(db, checked, this.now()));
  }

  async getCheckpoint(nodeId: string, kind: NodeDatabaseKind, name: string): Promise<Checkpoint> {
    checkNodeId(nodeId);
    checkCheckpointName(name);
    const db = this.pool.get(checkDatabaseKind(kind), nodeId, false);
    const checkpoint = db.read(() => selectCheckpoint(db, name));
    if (checkpoint === undefined) throw notFound(`node ${nodeId} has no checkpoint ${name} in its ${kind} database`);
    return checkpoint;
  }

  async listCheckpoints(nodeId: string, kind: NodeDatabaseKind, query: CheckpointQuery): Promise<Page<CheckpointInfo>> {
    checkNodeId(nodeId);
    checkDatabaseKind(kind);
    const prefix = checkCheckpointPrefix(query.prefix);
    const pageSize = checkPageSize(query.pageSize);
    const fingerprint = queryFingerprint(['checkpoints', prefix]);
    const cursor = decodePageToken(query.pageToken, fingerprint);
    const db = this.pool.get(kind, nodeId, false);
    // GLOB with a bound pattern that starts with no metacharacter is a range seek on the
    // name index (names cannot hold metacharacters).
    const rows = db.read(
      () =>
        db
          .statement(
            `SELECT name, revision, modify_time FROM checkpoints WHERE name GLOB ? AND name > ?
             ORDER BY name LIMIT ?`,
          )
          .all(`${prefix}*`, cursor?.after[1] ?? '', pageSize + 1) as Omit<CheckpointRow, 'data'>[],
    );
    return pageOf(
      rows,
      pageSize,
      (row): CheckpointInfo => ({ name: row.name, revision: row.revision, modifyTime: row.modify_time }),
      // Names are the whole order; the number is unused.
      (row) => ({ after: [0, row.name] }),
      fingerprint,
    );
  }
}
