import { SqliteAccessTokens, type AccessTokens } from './access-tokens.js';
import { Catalogue } from './catalogue.js';
import { coordinationMigrations } from './coordination-schema.js';
import { CoordinationDatabase } from './coordination-database.js';
import type { LeaseStore } from './lease-store.js';
import { refreshLeasesInTx } from './lease-writes.js';
import { leaseStallCredit, type StallCreditObserver } from './lease-stall-credit.js';
import { LockManager } from './lock-manager.js';
import type { LockStore } from './lock-store.js';
import { SqliteLeaseStore } from './sqlite-lease-store.js';
import { DatabaseLocations, type DatabaseLocationSettings } from './database-locations.js';
import { DatabasePool, type CommittedBatch, type DatabaseOpenedInfo, type OpenDatabaseCounts } from './database-pool.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ExecutionStore } from './execution-store.js';
import type { JobStore } from './job-store.js';
import type { ExecutionHistoryFeed, JobHistoryFeed } from './history-feed.js';
import { executionHistoryFeed, jobHistoryFeed } from './sqlite-history-feed.js';
import { migrate } from './migrations.js';
import { KEEP_EVERYTHING, RetentionRunner, type RetentionPolicies } from './retention-runner.js';
import { computeMigrations } from './compute-schema.js';
import { requesterMigrations } from './requester-schema.js';
import { openSqlite, type Durability, type SqliteDatabase } from './sqlite-connection.js';
import type { GroupCommitSettings } from './group-commit.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { SqliteExecutionStore } from './sqlite-execution-store.js';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store.js';
import type { NodeRegistryStore } from './node-registry.js';
import { SqliteNodeRegistry } from './sqlite-node-registry.js';
import { ClaimReturner, type ClaimsReturned } from './claim-returner.js';
import type { WorkQueueStore } from './work-queue-store.js';
import { SqliteWorkQueues } from './sqlite-work-queues.js';
import type { BatchStore } from './batch-store.js';
import { SqliteBatches } from './sqlite-batches.js';
import { removeLeftoverStaging } from './staged-export.js';
import { NodeDrainer } from './node-drain.js';
import { storageAdmin, type StorageAdmin } from './storage-admin.js';
import { resolveStoreLimits, type StoreLimits } from './store-limits.js';
import { StallWatch, type StallWatchSettings } from './stall-watch.js';

export interface StorageSettings extends DatabaseLocationSettings {
  /** Node databases open at once; the least recently used is closed past it. Default 256. */
  maxOpenDatabases?: number;
  /** What a commit survives before it is acknowledged, for every file opened; default `full`. */
  durability?: Durability;
  /** Bounds of the batches every database commits writes in; GROUP_COMMIT_DEFAULTS by default. */
  groupCommit?: GroupCommitSettings;
  /** Told after each group commit of any database (its kind, how many writes, how long): for metrics. */
  onBatchCommitted?: (batch: CommittedBatch) => void;
  /** The clock records are stamped with, in milliseconds; tests pass their own. */
  clock?: () => number;
  /**
   * Called whenever a node database is opened, with its per-state counts read from the
   * counters table (never a scan of the records); the server logs it.
   */
  onDatabaseOpened?: (info: DatabaseOpenedInfo) => void;
  /** What retention does to each kind of node database; by default it keeps everything. */
  retention?: RetentionPolicies;
  /**
   * Told when jobs claimed under ended leases went back to their queues, and of a database
   * that could not be reached then (its claims are returned at the next lease's end or start).
   */
  onClaimsReturned?: (returned: ClaimsReturned[], failure?: unknown) => void;
  /** Limits on specs, checkpoint data and lock lines; DEFAULT_STORE_LIMITS for any not given. */
  limits?: Partial<StoreLimits>;
  /**
   * Whether opening gives every lease a fresh TTL, as a server does when it starts (default).
   * The admin tool, working on files offline, passes false: its open is not a restart.
   */
  refreshLeasesAtOpen?: boolean;
  /**
   * Gives leases back the time this process ran nothing (see StallWatch), so that a long
   * transaction, a disk that holds an fsync for seconds or a paused process does not end the
   * leases whose keep-alives were waiting to be read. The server turns it on; off by default.
   * It measures stalls on the real clock, so it cannot be combined with `clock`.
   */
  stallCredit?: StallWatchSettings & { onCredited?: StallCreditObserver };
  /** Told the SQL of every statement any database runs (see ConnectionOptions.onStatement); tests only. */
  onStatement?: (sql: string) => void;
}

/** Everything the server stores, opened together and closed together. */
export interface Storage {
  /** The limits in force, defaults filled in: the server checks requests against the same numbers. */
  readonly limits: StoreLimits;
  readonly jobStore: JobStore;
  /** Claims, retries and holds over the requester databases' jobs. */
  readonly workQueues: WorkQueueStore;
  /** Batches of jobs in requester databases. */
  readonly batches: BatchStore;
  /** Returns the jobs of ended leases; the server calls `returnOrphanedClaims` once started. */
  readonly claims: ClaimReturner;
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
  /** coordination.db behind its facade: leases, locks and the node registry use it (issue 4). */
  readonly coordination: CoordinationDatabase;
  /** The node registry, in coordination.db. */
  readonly nodeRegistry: NodeRegistryStore;
  /** Leases; the server runs `expireDue` on a timer. */
  readonly leaseStore: LeaseStore;
  /** Locks, their lines of waiters and fencing tokens. */
  readonly lockStore: LockStore;
  /** Import, retention on demand, drain and retire: what the admin tool changes. */
  readonly admin: StorageAdmin;
  /** Bearer tokens and their roles, in coordination.db. */
  readonly accessTokens: AccessTokens;
  /** How many node databases are open now, and their records by state: for metrics. */
  openDatabases(): OpenDatabaseCounts[];
  /** Ends every Acquire still waiting with UNAVAILABLE; the server calls it when it starts shutting down. */
  stopLockWaits(): void;
  close(): void;
}

/**
 * Opens the data directory: coordination.db at once (creating and migrating it), node
 * databases lazily on first use. Throws when coordination.db was written by a newer jobkeep.
 */
export function openStorage(settings: StorageSettings): Storage {
  if (settings.stallCredit !== undefined && settings.clock !== undefined) {
    throw new Error('stallCredit measures stalls on the real clock: it cannot be combined with a clock of its own');
  }
  const limits = resolveStoreLimits(settings.limits);
  const locations = new DatabaseLocations(settings);
  // Whoever opens the storage is the data directory's one writer: no import of another runs there.
  removeLeftoverStaging(locations.dataDir);
  const connection = { durability: settings.durability, onStatement: settings.onStatement };
  // Always durable: a token or lease revoke, a lock release, must never come back after a power
  // loss. Its writes are group-committed like a node database's, which is where its speed comes from.
  const coordination: SqliteDatabase = openSqlite(locations.coordinationPath, true, { ...connection, durability: 'full' });
  try {
    migrate(coordination, coordinationMigrations, locations.coordinationPath);
  } catch (error) {
    coordination.close();
    throw error;
  }
  // One facade for everyone: the stores check lock guards through it, synchronously.
  const coordinationDatabase = new CoordinationDatabase(coordination, {
    groupCommit: settings.groupCommit,
    onBatchCommitted: (writes, seconds) => settings.onBatchCommitted?.({ kind: 'coordination', writes, seconds }),
  });
  const catalogue = new Catalogue(coordinationDatabase);
  const stallWatch =
    settings.stallCredit === undefined ? undefined : new StallWatch(leaseStallCredit(coordinationDatabase, settings.stallCredit.onCredited), settings.stallCredit);
  // Every store judges leases (a claim's, a lock guard's) by the same clock.
  const clock = settings.clock ?? stallWatch?.now ?? Date.now;
  // As etcd does after a restart: time the server was down does not count against any lease.
  if (settings.refreshLeasesAtOpen ?? true) coordinationDatabase.writeNow(() => refreshLeasesInTx(coordinationDatabase, clock()));
  const locks = new LockManager(coordinationDatabase, limits, clock);
  const pool = new DatabasePool({
    locations,
    catalogue,
    migrations: { requester: requesterMigrations, compute: computeMigrations },
    maxOpen: settings.maxOpenDatabases ?? 256,
    now: clock,
    onDatabaseOpened: settings.onDatabaseOpened,
    connection,
    groupCommit: settings.groupCommit,
    onBatchCommitted: settings.onBatchCommitted,
    // A node write may rest on a lease or lock decided in the same turn: that commits first.
    beforeCommit: () => coordinationDatabase.commitPending(),
  });
  const claims = new ClaimReturner(coordinationDatabase, pool, clock, settings.onClaimsReturned);
  // A lease's end releases its locks (to their next waiters) and hands its claimed jobs back.
  const leaseEnded = {
    leaseEnded(leaseId: number, releasedLocks: readonly string[]) {
      locks.leaseEnded(leaseId, releasedLocks);
      claims.leaseEnded(leaseId);
    },
  };
  const leaseStore = new SqliteLeaseStore(coordinationDatabase, leaseEnded, clock);
  const retention = new RetentionRunner(pool, catalogue, settings.retention ?? KEEP_EVERYTHING, clock);
  const drainer = new NodeDrainer({ pool, catalogue, coordination: coordinationDatabase, leases: leaseStore, locks, clock });
  stallWatch?.start();
  return {
    limits,
    jobStore: new SqliteJobStore(pool, coordinationDatabase, limits, clock),
    workQueues: new SqliteWorkQueues(pool, coordinationDatabase, clock),
    batches: new SqliteBatches(pool, coordinationDatabase, limits, clock),
    claims,
    executionStore: new SqliteExecutionStore(pool, coordinationDatabase, limits, clock),
    checkpointStore: new SqliteCheckpointStore(pool, limits, clock),
    jobHistory: jobHistoryFeed(pool),
    executionHistory: executionHistoryFeed(pool),
    catalogue,
    locations,
    retention,
    coordination: coordinationDatabase,
    nodeRegistry: new SqliteNodeRegistry(coordinationDatabase, clock),
    leaseStore,
    lockStore: locks,
    admin: storageAdmin(pool, catalogue, retention, drainer, locations.dataDir),
    accessTokens: new SqliteAccessTokens(coordinationDatabase, clock),
    openDatabases: () => pool.openDatabaseCounts(),
    stopLockWaits: () => locks.close(),
    close() {
      stallWatch?.stop();
      claims.close();
      locks.close();
      pool.closeAll();
      coordinationDatabase.close();
    },
  };
}
