import { Catalogue } from './catalogue.js';
import { coordinationMigrations } from './coordination-schema.js';
import { DatabaseLocations, type DatabaseLocationSettings } from './database-locations.js';
import { DatabasePool, type DatabaseOpenedInfo } from './database-pool.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ExecutionStore } from './execution-store.js';
import type { JobStore } from './job-store.js';
import type { ExecutionHistoryFeed, JobHistoryFeed } from './history-feed.js';
import { executionHistoryFeed, jobHistoryFeed } from './sqlite-history-feed.js';
import { migrate } from './migrations.js';
import { KEEP_EVERYTHING, RetentionRunner, type RetentionPolicies } from './retention-runner.js';
import { computeMigrations } from './compute-schema.js';
import { requesterMigrations } from './requester-schema.js';
import { openSqlite, type SqliteDatabase } from './sqlite-connection.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { SqliteExecutionStore } from './sqlite-execution-store.js';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store.js';

export interface StorageSettings extends DatabaseLocationSettings {
  /** Node databases open at once; the least recently used is closed past it. Default 256. */
  maxOpenDatabases?: number;
  /** The clock records are stamped with, in milliseconds; tests pass their own. */
  clock?: () => number;
  /**
   * Called whenever a node database is opened, with its per-state counts read from the
   * counters table (never a scan of the records); the server logs it.
   */
  onDatabaseOpened?: (info: DatabaseOpenedInfo) => void;
  /** What retention does to each kind of node database; by default it keeps everything. */
  retention?: RetentionPolicies;
}

/** Everything the server stores, opened together and closed together. */
export interface Storage {
  readonly jobStore: JobStore;
  readonly executionStore: ExecutionStore;
  readonly checkpointStore: CheckpointStore;
  /** The history of requester databases, for WatchJobs. */
  readonly jobHistory: JobHistoryFeed;
  /** The history of compute databases, for WatchExecutions. */
  readonly executionHistory: ExecutionHistoryFeed;
  readonly catalogue: Catalogue;
  readonly locations: DatabaseLocations;
  /** Applies the retention policies; the server runs it at start, on opens and periodically. */
  readonly retention: RetentionRunner;
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
    onDatabaseOpened: settings.onDatabaseOpened,
  });
  return {
    jobStore: new SqliteJobStore(pool, settings.clock),
    executionStore: new SqliteExecutionStore(pool, settings.clock),
    checkpointStore: new SqliteCheckpointStore(pool, settings.clock),
    jobHistory: jobHistoryFeed(pool),
    executionHistory: executionHistoryFeed(pool),
    catalogue,
    locations,
    retention: new RetentionRunner(pool, catalogue, settings.retention ?? KEEP_EVERYTHING, settings.clock),
    close() {
      pool.closeAll();
      coordination.close();
    },
  };
}
