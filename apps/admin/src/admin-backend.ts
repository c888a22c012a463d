import type { RetentionPolicies } from '@jobkeep/store';
import type {
  AccessTokenView,
  CopyOutcome,
  CreatedAccessTokenView,
  DatabaseStatsView,
  DatabaseView,
  DrainProgress,
  ImportOutcome,
  JobEventView,
  KeysView,
  LockView,
  NodeView,
  ProblemView,
  RetentionOutcomeView,
  TableView,
  TokenRoleName,
} from './admin-views.js';

/** Told how far a long operation has got: `done` of `total` (bytes, rows or jobs). */
export type ProgressListener = (done: number, total: number) => void;

/** Every row of a database as JSON lines, and how many rows there will be. */
export interface ExportStream {
  totalRows: number;
  lines: AsyncIterable<string>;
}

/**
 * What the commands do, whichever way they reach the databases: through a live server's
 * AdminService (live-backend.ts) or on the files of a data directory (offline-backend.ts).
 * Both return the same views. A database is named as its file is, without `.db`.
 */
export interface AdminBackend {
  /** Where the databases are, for messages: `server HOST:PORT`, `data dir DIR` or `file PATH`. */
  readonly where: string;
  listDatabases(): Promise<DatabaseView[]>;
  checkDatabase(name: string): Promise<ProblemView[]>;
  listTables(name: string): Promise<TableView[]>;
  databaseStats(name: string): Promise<DatabaseStatsView>;
  listKeys(name: string, table: string, query: { prefix: string; limit: number }): Promise<KeysView>;
  /** The rows whose first key column equals `key`, as JSON objects. */
  getRows(name: string, table: string, key: string): Promise<unknown[]>;
  /** Writes a compacted copy to `dest`, whole or not at all. */
  compact(name: string, dest: string, onProgress: ProgressListener): Promise<CopyOutcome>;
  /** Writes a consistent copy to `dest`, whole or not at all, while writers go on. */
  backup(name: string, dest: string, onProgress: ProgressListener): Promise<CopyOutcome>;
  exportDatabase(name: string): Promise<ExportStream>;
  importDatabase(name: string, lines: AsyncIterable<string>): Promise<ImportOutcome>;
  listNodes(): Promise<NodeView[]>;
  listLocks(): Promise<LockView[]>;
  /** Takes the lock from its holder and gives it to the next waiter. */
  releaseLock(name: string): Promise<void>;
  jobHistory(nodeId: string, jobId: string): Promise<JobEventView[]>;
  /**
   * One database, or every node database when `name` is undefined. `policies` are for the files
   * only: a live server applies its own.
   */
  runRetention(name: string | undefined, options: { dryRun: boolean; policies?: RetentionPolicies }): Promise<RetentionOutcomeView[]>;
  /** Stops after the step under way once `signal` is aborted. */
  drainNode(from: string, to: string, options: { onProgress: (progress: DrainProgress) => void; signal: AbortSignal }): Promise<DrainProgress>;
  /** The node's databases, now RETIRED. */
  retireNode(nodeId: string): Promise<DatabaseView[]>;
  /** Offline, works on a data directory that does not exist yet: the first admin token comes before the server's first start. */
  createAccessToken(input: { name: string; role: TokenRoleName; nodeIds: string[] }): Promise<CreatedAccessTokenView>;
  listAccessTokens(options: { includeRevoked: boolean }): Promise<AccessTokenView[]>;
  revokeAccessToken(id: string): Promise<AccessTokenView>;
  close(): void;
}
