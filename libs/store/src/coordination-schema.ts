import type { Migrations } from './migrations.js';

/** coordination.db: shared by every node. So far it holds the catalogue of node databases. */
export const coordinationMigrations: Migrations = [
  `
  CREATE TABLE node_databases (
    node_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('requester', 'compute')),
    path        TEXT NOT NULL,
    lifecycle   TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (lifecycle IN ('ACTIVE', 'DRAINING', 'RETIRED')),
    create_time INTEGER NOT NULL,
    PRIMARY KEY (node_id, kind)
  ) STRICT, WITHOUT ROWID;
  `,
];
