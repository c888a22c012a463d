import { failedPrecondition, notFound } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import type { CoordinationDatabase } from './coordination-database.js';

export type DatabaseLifecycle = 'ACTIVE' | 'DRAINING' | 'RETIRED';

export interface CatalogueEntry {
  nodeId: string;
  kind: NodeDatabaseKind;
  path: string;
  lifecycle: DatabaseLifecycle;
  createTime: number;
}

interface CatalogueRow {
  node_id: string;
  kind: NodeDatabaseKind;
  path: string;
  lifecycle: DatabaseLifecycle;
  create_time: number;
}

/**
 * The catalogue of node databases, kept in coordination.db. Lifecycles are cached: this process
 * is the only writer of the data directory (see data-dir-holder.ts), so the cache only changes
 * through `setLifecycle`, and the check every create makes costs no read of coordination.db.
 */
export class Catalogue {
  private readonly lifecycles = new Map<string, DatabaseLifecycle>();

  /**
   * Its statements are prepared once: `record` runs on every open of a node database. Its
   * changes are rare and commit on the spot (`writeNow`), outside the group commit: a node
   * database is catalogued before it holds anything, and a lifecycle is set before it counts.
   */
  constructor(private readonly coordination: CoordinationDatabase) {}

  /**
   * Records a node database; recording one that is already known changes nothing. Called on
   * every open of a node database, so the usual case (already known) is a read: no write
   * transaction, no fsync of coordination.db.
   */
  record(nodeId: string, kind: NodeDatabaseKind, path: string, now: number): void {
    const known = this.coordination.statement('SELECT 1 FROM node_databases WHERE node_id = ? AND kind = ?').get(nodeId, kind);
    if (known !== undefined) return;
    this.coordination.writeNow(() =>
      this.coordination
        .statement('INSERT OR IGNORE INTO node_databases (node_id, kind, path, create_time) VALUES (?, ?, ?, ?)')
        .run(nodeId, kind, path, now),
    );
  }

  /** The database's lifecycle; undefined when it is not catalogued (it does not exist yet). */
  lifecycle(nodeId: string, kind: NodeDatabaseKind): DatabaseLifecycle | undefined {
    const key = `${kind}:${nodeId}`;
    const cached = this.lifecycles.get(key);
    if (cached !== undefined) return cached;
    const row = this.coordination.statement('SELECT lifecycle FROM node_databases WHERE node_id = ? AND kind = ?').get(nodeId, kind) as
      | { lifecycle: DatabaseLifecycle }
      | undefined;
    if (row !== undefined) this.lifecycles.set(key, row.lifecycle);
    return row?.lifecycle;
  }

  /** FAILED_PRECONDITION unless the database takes new records: it is ACTIVE, or not created yet. */
  checkTakesNewRecords(nodeId: string, kind: NodeDatabaseKind): void {
    const lifecycle = this.lifecycle(nodeId, kind);
    if (lifecycle === undefined || lifecycle === 'ACTIVE') return;
    const records = kind === 'requester' ? 'jobs' : 'executions';
    throw failedPrecondition(`node ${nodeId}'s ${kind} database is ${lifecycle} and takes no new ${records}; create them on another node`);
  }

  /** Moves a catalogued database along its lifecycle; NOT_FOUND when it is not catalogued. */
  setLifecycle(nodeId: string, kind: NodeDatabaseKind, lifecycle: DatabaseLifecycle): void {
    const changed = this.coordination.writeNow(() =>
      this.coordination.statement('UPDATE node_databases SET lifecycle = ? WHERE node_id = ? AND kind = ?').run(lifecycle, nodeId, kind),
    );
    if (changed.changes === 0) throw notFound(`node ${nodeId} has no ${kind} database`);
    this.lifecycles.set(`${kind}:${nodeId}`, lifecycle);
  }

  /** Drops a database from the catalogue; see DatabasePool.discardNew. */
  forget(nodeId: string, kind: NodeDatabaseKind): void {
    this.coordination.writeNow(() => this.coordination.statement('DELETE FROM node_databases WHERE node_id = ? AND kind = ?').run(nodeId, kind));
    this.lifecycles.delete(`${kind}:${nodeId}`);
  }

  list(): CatalogueEntry[] {
    const rows = this.coordination
      .statement('SELECT node_id, kind, path, lifecycle, create_time FROM node_databases ORDER BY node_id, kind')
      .all() as CatalogueRow[];
    return rows.map((row) => ({
      nodeId: row.node_id,
      kind: row.kind,
      path: row.path,
      lifecycle: row.lifecycle,
      createTime: row.create_time,
    }));
  }
}
