import { coordinationMigrations } from './coordination-schema.js';
import { MAX_LISTED, checkNodeDatabase, checkSqlite, reported, type ConsistencyProblem } from './consistency-check.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { readSnapshot } from './database-tables.js';
import type { SqliteDatabase } from './sqlite-connection.js';

/**
 * References to leases that the checks below report by name. SQLite's foreign_key_check
 * finds them too, but names a WITHOUT ROWID row (a lock) only as "row null".
 */
const NAMED_LEASE_REFERENCES = new Set(['locks', 'nodes']);

/** Checks any database file of a data directory by its kind; an empty list means it is consistent. */
export function checkDatabaseFile(kind: 'coordination' | NodeDatabaseKind, file: string): ConsistencyProblem[] {
  return kind === 'coordination' ? checkCoordinationDatabase(file) : checkNodeDatabase(kind, file);
}

/**
 * Checks coordination.db for what its transactions guarantee: every lock holder and every
 * online node names a lease that exists, no lock carries a fencing token above the counter
 * that hands them out (else a token could be handed out twice), and the node_labels index
 * says what each node's labels say. Read-only and in one snapshot, like checkNodeDatabase.
 */
export function checkCoordinationDatabase(file: string): ConsistencyProblem[] {
  return readSnapshot(file, (db) => {
    // A file SQLite cannot read at all is one finding, not one per check.
    const unreadable = reported(() => {
      db.pragma('schema_version');
      return [];
    });
    if (unreadable.length > 0) return unreadable;
    const namedHere = (orphan: { table: string; parent: string }) => orphan.parent === 'leases' && NAMED_LEASE_REFERENCES.has(orphan.table);
    return [...reported(() => checkSqlite(db, namedHere)), ...reported(() => checkContent(db))];
  });
}

function checkContent(db: SqliteDatabase): ConsistencyProblem[] {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version !== coordinationMigrations.length) {
    // The tables checked below are those of the latest schema.
    return [{ check: 'schema', message: `schema version ${version}, not the ${coordinationMigrations.length} this jobkeep checks` }];
  }
  return [...checkLeaseReferences(db), ...checkFencingCounter(db), ...checkNodeLabels(db)];
}

function checkLeaseReferences(db: SqliteDatabase): ConsistencyProblem[] {
  const locks = listed(
    db,
    `SELECT name, holder_lease_id AS lease FROM locks l
     WHERE holder_lease_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM leases WHERE id = l.holder_lease_id) ORDER BY name`,
    (row: { name: string; lease: number }) => `lock ${row.name} is held by lease ${row.lease}, which does not exist`,
    'locks held by a missing lease',
  );
  const nodes = listed(
    db,
    `SELECT id, lease_id AS lease FROM nodes n
     WHERE lease_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM leases WHERE id = n.lease_id) ORDER BY id`,
    (row: { id: string; lease: number }) => `node ${row.id} names lease ${row.lease}, which does not exist`,
    'nodes naming a missing lease',
  );
  return [...locks.map((message) => ({ check: 'locks' as const, message })), ...nodes.map((message) => ({ check: 'nodes' as const, message }))];
}

function checkFencingCounter(db: SqliteDatabase): ConsistencyProblem[] {
  const counter = db.prepare(`SELECT value FROM coordination_meta WHERE key = 'fencing_token'`).pluck().get() as number | undefined;
  if (counter === undefined) return [{ check: 'locks', message: 'coordination_meta has no fencing_token counter' }];
  return listed(
    db,
    `SELECT name, fencing_token AS token FROM locks WHERE fencing_token > ? ORDER BY name`,
    (row: { name: string; token: number }) => `lock ${row.name} has fencing token ${row.token}, above the counter's ${counter}`,
    'locks with a token above the counter',
    counter,
  ).map((message) => ({ check: 'locks', message }));
}

/** node_labels is the index of nodes.labels (a JSON object) that label selectors query. */
function checkNodeLabels(db: SqliteDatabase): ConsistencyProblem[] {
  const invalid = listed(
    db,
    `SELECT id FROM nodes WHERE json_valid(labels) = 0 OR json_type(labels) <> 'object' ORDER BY id`,
    (row: { id: string }) => `node ${row.id} has labels that are not a JSON object`,
    'nodes with labels that are not a JSON object',
  );
  const expected = `SELECT n.id AS node_id, j.key AS key, j.value AS value
    FROM nodes n, json_each(n.labels) j WHERE json_valid(n.labels) AND json_type(n.labels) = 'object'`;
  const missing = listed(
    db,
    `${expected} EXCEPT SELECT node_id, key, value FROM node_labels ORDER BY 1, 2`,
    (row: { node_id: string; key: string; value: unknown }) => `node ${row.node_id} has label ${row.key}=${String(row.value)}, which node_labels lacks`,
    'labels missing from node_labels',
  );
  const extra = listed(
    db,
    `SELECT node_id, key, value FROM node_labels EXCEPT ${expected} ORDER BY 1, 2`,
    (row: { node_id: string; key: string; value: string }) => `node_labels has ${row.key}=${row.value} for node ${row.node_id}, whose labels do not`,
    'node_labels rows the nodes do not have',
  );
  return [...invalid, ...missing, ...extra].map((message) => ({ check: 'nodes', message }));
}

/** Up to MAX_LISTED findings of one query, then one line saying that there are more. */
function listed<Row>(db: SqliteDatabase, sql: string, describe: (row: Row) => string, what: string, ...parameters: unknown[]): string[] {
  const rows = db.prepare(`${sql} LIMIT ?`).all(...parameters, MAX_LISTED + 1) as Row[];
  const messages = rows.slice(0, MAX_LISTED).map(describe);
  if (rows.length > MAX_LISTED) messages.push(`and more ${what}; only the first ${MAX_LISTED} are listed`);
  return messages;
}
