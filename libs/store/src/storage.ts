import { Catalogue } from './catalogue.js';
import { coordinationMigrations } from './coordination-schema.js';
import { DatabaseLocations, type DatabaseLocationSettings } from './database-locations.js';
import { DatabasePool } from './database-pool.js';
import type { JobStore } from './job-store.js';
import { migrate } from './migrations.js';
import { computeMigrations } from './compute-schema.js';
import { requesterMigrations } from './requester-schema.js';
import { openSqlite, type SqliteDatabase } from './sqlite-connection.js';
import { SqliteJobStore } from './sqlite-job-store.js';

export interface StorageSettings extends DatabaseLocationSettings {
  /** Node databases open at once; the least recently used is closed past it. Default 256. */
  maxOpenDatabases?: number;
  /** The clock records are stamped with, in milliseconds; tests pass their own. */
  clock?: () => number;
}

/** Everything the server stores, opened together and closed together. */
export interface Storage {
  readonly jobStore: JobStore;
  readonly catalogue: Catalogue;
  readonly locations: DatabaseLocations;
  close(): void;
}

/**
 * Opens the data directory: coordination.db at once (creating and migrating it), node
 * databases lazily on first use. Throws when coordination.db was written by a newer jobkeep.
 */
export function openStorage(settings: StorageSettings): Storage {
  const locations = new DatabaseLocations(settings);
  const coordination: SqliteDatabase = openSqlite(locations.coordinationPath, true);
  try {
    migrate(coordination, coordinationMigrations, locations.coordinationPath);
  } catch (error) {
    coordination.close();
    throw error;
  }
  const catalogue = new Catalogue(coordination);
  const pool = new DatabasePool({
    locations,
    catalogue,
    migrations: { requester: requesterMigrations, compute: computeMigrations },
    maxOpen: settings.maxOpenDatabases ?? 256,
    now: settings.clock,
  });
  return {
    jobStore: new SqliteJobStore(pool, settings.clock),
    catalogue,
    locations,
    close() {
      pool.closeAll();
      coordination.close();
    },
  };
}
