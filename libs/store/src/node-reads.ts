import { notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { NodeDatabaseKind } from './database-locations.js';
import type { NodeCapacity, RegisteredNode } from './node-registry.js';
import type { Cursor } from './page-token.js';

/** Reads of the node registry; each runs inside the caller's read or write transaction. */

/** A node as SQLite returns it from NODE_COLUMNS and NODE_FROM. */
export interface NodeRow {
  id: string;
  kind: NodeDatabaseKind;
  address: string;
  labels: string;
  capacity: string;
  lease_id: number | null;
  archived: number;
  register_time: number;
  unregister_time: number | null;
  /** Null once the lease row is gone (nodes.lease_id is then null too). */
  lease_expire_time: number | null;
}

export const NODE_COLUMNS = `n.id, n.kind, n.address, n.labels, n.capacity, n.lease_id, n.archived, n.register_time,
  n.unregister_time, l.expire_time AS lease_expire_time`;

/** The lease is joined rather than trusted to be swept: an expired lease not yet deleted is offline already. */
export const NODE_FROM = 'nodes n LEFT JOIN leases l ON l.id = n.lease_id';

export function nodeFromRow(row: NodeRow, now: number): RegisteredNode {
  const archived = row.archived !== 0;
  return {
    id: row.id,
    kind: row.kind,
    address: row.address,
    labels: JSON.parse(row.labels) as Record<string, string>,
    // Records written before slots existed have none.
    capacity: { slots: 0, ...(JSON.parse(row.capacity) as Partial<NodeCapacity>) } as NodeCapacity,
    leaseId: row.lease_id ?? 0,
    online: !archived && row.lease_expire_time !== null && row.lease_expire_time > now,
    archived,
    registerTime: row.register_time,
    unregisterTime: row.unregister_time ?? undefined,
  };
}

export function selectNodeById(coordination: CoordinationDatabase, nodeId: string, now: number): RegisteredNode {
  const row = coordination.statement(`SELECT ${NODE_COLUMNS} FROM ${NODE_FROM} WHERE n.id = ?`).get(nodeId) as
    | NodeRow
    | undefined;
  if (row === undefined) throw notFound(`node ${nodeId} is not registered`);
  return nodeFromRow(row, now);
}

/** A ListNodes query once its input is checked and defaulted. */
export interface CheckedNodeQuery {
  kind: NodeDatabaseKind | '';
  online: boolean | undefined;
  labels: [string, string][];
  includeArchived: boolean;
  pageSize: number;
}

/**
 * The SQL of one List page, in id order. Kind and archived are served by nodes_by_kind (whose
 * last column is the id, so no sort is needed), labels by node_labels' (key, value) index, and
 * the lease by its primary key; the keyset cursor is the last id.
 */
export function buildNodeListQuery(
  query: CheckedNodeQuery,
  cursor: Cursor | undefined,
  now: number,
): { sql: string; params: (string | number)[] } {
  const conditions: string[] = [];
  const params: (string | number)[] = [];
  const where = (condition: string, ...values: (string | number)[]) => {
    conditions.push(condition);
    params.push(...values);
  };
  if (query.kind !== '') where('n.kind = ?', query.kind);
  if (!query.includeArchived) where('n.archived = 0');
  for (const [key, value] of query.labels) {
    where('n.id IN (SELECT node_id FROM node_labels WHERE key = ? AND value = ?)', key, value);
  }
  // The same rule as nodeFromRow's `online`, in SQL.
  if (query.online === true) where('(n.archived = 0 AND l.expire_time > ?)', now);
  if (query.online === false) where('(n.archived = 1 OR l.expire_time IS NULL OR l.expire_time <= ?)', now);
  if (cursor !== undefined) where('n.id > ?', cursor.after[1]);
  const whereClause = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  return {
    sql: `SELECT ${NODE_COLUMNS} FROM ${NODE_FROM} ${whereClause} ORDER BY n.id LIMIT ?`,
    params: [...params, query.pageSize + 1],
  };
}
