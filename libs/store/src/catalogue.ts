import type { NodeDatabaseKind } from './database-locations.js';
import type { SqliteDatabase } from './sqlite-connection.js';

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

/** The catalogue of node databases, kept in coordination.db. */
export class Catalogue {
  constructor(private readonly coordination: SqliteDatabase) {}

  /**
   * Records a node database; recording one that is already known changes nothing. Called on
   * every open of a node database, so the usual case (already known) is a read: no write
   * transaction, no fsync of coordination.db.
   */
  record(nodeId: string, kind: NodeDatabaseKind, path: string, now: number): void {
    const known = this.coordination.prepare('SELECT 1 FROM node_databases WHERE node_id = ? AND kind = ?').get(nodeId, kind);
    if (known !== undefined) return;
    this.coordination
      .prepare('INSERT OR IGNORE INTO node_databases (node_id, kind, path, create_time) VALUES (?, ?, ?, ?)')
      .run(nodeId, kind, path, now);
  }

  list(): CatalogueEntry[] {
    const rows = this.coordination
      .prepare('SELECT node_id, kind, path, lifecycle, create_time FROM node_databases ORDER BY node_id, kind')
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
