import fs from 'node:fs';
import { invalidArgument, notFound } from '@jobkeep/errors';
import { Catalogue, type DatabaseLifecycle } from './catalogue.js';
import { CoordinationDatabase } from './coordination-database.js';
import type { DatabaseLocations, NodeDatabaseKind } from './database-locations.js';
import { COORDINATION_NAME, databaseName } from './database-names.js';
import { readSnapshot } from './database-tables.js';
import { JOB_EVENT_COLUMNS, jobEventFromRow, type JobEventRow } from './job-rows.js';
import type { JobEvent } from './job-model.js';
import type { Lock } from './lock-store.js';
import { listLocksInTx, lockFromRow } from './lock-writes.js';
import { NODE_COLUMNS, NODE_FROM, nodeFromRow, type NodeRow } from './node-reads.js';
import type { RegisteredNode } from './node-registry.js';
import { readStateCounters } from './state-counters.js';

/*
 * Read-only views of a data directory's files for the admin tool when no server runs. Each opens
 * its file read-only and reads in one transaction: one snapshot, even while a server writes the
 * file, and no write to it ever (SQLite may add the empty -wal and -shm files a reader of a WAL
 * database needs, as it does for any reader).
 */

/** One database of a data directory, as the `databases` command lists it. */
export interface DatabaseInfo {
  name: string;
  /** Empty for coordination.db. */
  nodeId: string;
  kind: 'coordination' | NodeDatabaseKind;
  path: string;
  /** Empty for coordination.db, which has no lifecycle. */
  lifecycle: DatabaseLifecycle | '';
  /** The file and its write-ahead log; 0 when the file is gone. */
  sizeBytes: number;
  /** Records per state, from the counters table; empty for coordination.db and a missing file. */
  counts: Record<string, number>;
  /** When the catalogue recorded it; 0 for coordination.db, which records no such time. */
  createTime: number;
  exists: boolean;
}

function sizeOf(file: string): number {
  const bytes = (name: string) => (fs.existsSync(name) ? fs.statSync(name).size : 0);
  return bytes(file) + bytes(`${file}-wal`);
}

/**
 * coordination.db, then every catalogued node database by node and kind. Each file is where
 * `locations` puts it, not where the catalogue's `path` column says: that column holds the
 * absolute path the server wrote, so a copied or restored data directory (a backup) would
 * otherwise be described by the live files it was copied from.
 */
export function listDatabaseInfos(locations: DatabaseLocations): DatabaseInfo[] {
  const coordinationFile = locations.coordinationPath;
  if (!fs.existsSync(coordinationFile)) throw notFound(`no jobkeep data directory at ${locations.dataDir} (no coordination.db)`);
  const entries = readSnapshot(coordinationFile, (db) => new Catalogue(new CoordinationDatabase(db)).list());
  const coordination: DatabaseInfo = {
    name: COORDINATION_NAME,
    nodeId: '',
    kind: 'coordination',
    path: coordinationFile,
    lifecycle: '',
    sizeBytes: sizeOf(coordinationFile),
    counts: {},
    createTime: 0,
    exists: true,
  };
  const nodeDatabases = entries.map((entry): DatabaseInfo => {
    const file = locations.nodeDatabasePath(entry.kind, entry.nodeId);
    const exists = fs.existsSync(file);
    return {
      name: databaseName({ kind: entry.kind, nodeId: entry.nodeId }),
      nodeId: entry.nodeId,
      kind: entry.kind,
      path: file,
      lifecycle: entry.lifecycle,
      sizeBytes: exists ? sizeOf(file) : 0,
      counts: exists ? readSnapshot(file, (db) => readStateCounters(db, entry.kind)) : {},
      createTime: entry.createTime,
      exists,
    };
  });
  return [coordination, ...nodeDatabases];
}

/** Every history row of a job in a requester database file, by revision; empty when it has none. */
export function readJobHistoryFile(file: string, jobId: string): JobEvent[] {
  return readSnapshot(file, (db) => {
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'job_history'").get() === undefined) {
      throw invalidArgument(`${file} is not a requester database: it has no job history`);
    }
    const rows = db.prepare(`SELECT ${JOB_EVENT_COLUMNS} FROM job_history WHERE job_id = ? ORDER BY revision`).all(jobId) as JobEventRow[];
    return rows.map(jobEventFromRow);
  });
}

/** Every registered node of coordination.db, archived ones included, by id. */
export function readNodesFile(coordinationFile: string): RegisteredNode[] {
  const now = Date.now();
  return readSnapshot(coordinationFile, (db) =>
    (db.prepare(`SELECT ${NODE_COLUMNS} FROM ${NODE_FROM} ORDER BY n.id`).all() as NodeRow[]).map((row) => nodeFromRow(row, now)),
  );
}

/**
 * Every lock of coordination.db, by name. No waiters: a line of waiters lives in the server
 * process that serves their calls, never in the file.
 */
export function readLocksFile(coordinationFile: string): Lock[] {
  const now = Date.now();
  return readSnapshot(coordinationFile, (db) => listLocksInTx(new CoordinationDatabase(db), '', '', -1).map((row) => lockFromRow(row, [], now)));
}

