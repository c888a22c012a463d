/*
 * What the commands print with --json: plain JSON objects, numbers for counts and sizes, names
 * for enums, ISO 8601 strings for times. Both backends build exactly these, so that a script
 * gets the same document from a live server as from the files.
 */

export type DatabaseKindName = 'coordination' | 'requester' | 'compute';

export interface DatabaseView {
  /** `coordination`, `{node}-requester` or `{node}-compute`. */
  name: string;
  /** Empty for coordination. */
  nodeId: string;
  kind: DatabaseKindName;
  path: string;
  /** ACTIVE, DRAINING or RETIRED; null for coordination. */
  lifecycle: string | null;
  /** The file and its write-ahead log. */
  sizeBytes: number;
  /** Records per state, from the counters the store keeps. */
  counts: Record<string, number>;
  createTime: string | null;
  /** False when the catalogue names a file that is gone. */
  exists: boolean;
}

export interface ProblemView {
  check: string;
  message: string;
}

export interface TableView {
  name: string;
  rows: number;
  keyColumns: string[];
}

export interface StorageObjectView {
  name: string;
  type: string;
  table: string;
  rows: number;
  pages: number;
  bytes: number;
}

export interface HistorySpanView {
  rows: number;
  firstRevision: number;
  lastRevision: number;
  firstTime: string | null;
  lastTime: string | null;
  compactedRevision: number;
}

export interface DatabaseStatsView {
  path: string;
  fileBytes: number;
  walBytes: number;
  pageSize: number;
  pageCount: number;
  freelistCount: number;
  objects: StorageObjectView[];
  /** Null for coordination. */
  history: HistorySpanView | null;
}

export interface KeysView {
  keys: string[];
  truncated: boolean;
}

/** What a compaction or a backup copied: the database as it was, and the copy. */
export interface CopyOutcome {
  sourceBytes: number;
  copyBytes: number;
}

export interface NodeView {
  id: string;
  kind: string;
  address: string;
  labels: Record<string, string>;
  capacity: { cpuMillis: number; memoryBytes: number; diskBytes: number; gpus: number; slots: number };
  leaseId: number;
  online: boolean;
  archived: boolean;
  registerTime: string | null;
  unregisterTime: string | null;
}

export interface LockView {
  name: string;
  /** Null when the lock is free. */
  holderLeaseId: number | null;
  fencingToken: number;
  acquireTime: string | null;
  waiterLeaseIds: number[];
  availableTime: string | null;
}

export interface JobEventView {
  revision: number;
  jobId: string;
  executionId: string;
  type: string;
  /** Empty when the event changed no state. */
  previousState: string;
  newState: string;
  message: string;
  time: string | null;
  batchId: string;
}

export interface RetentionOutcomeView {
  database: string;
  failed: Record<string, number>;
  deleted: Record<string, number>;
  historyRowsRemoved: number;
  batchesDeleted: number;
  requestIdsRemoved: number;
}

export interface ImportOutcome {
  rowsImported: number;
  /** The database already held every row: nothing was written. */
  unchanged: boolean;
}

export interface DrainProgress {
  /** Jobs moved so far, by this run and earlier ones. */
  moved: number;
  /** Jobs this run found to move. */
  total: number;
  retired: boolean;
}

export type TokenRoleName = 'admin' | 'agent' | 'reader';

/** An access token, never its secret. */
export interface AccessTokenView {
  id: string;
  name: string;
  role: TokenRoleName;
  /** The nodes an agent token may write; empty for every node. */
  nodeIds: string[];
  createTime: string | null;
  /** Null while the token is active. */
  revokeTime: string | null;
}

/** A token just made: its text, shown this once, and the token as stored. */
export interface CreatedAccessTokenView {
  token: string;
  accessToken: AccessTokenView;
}

/** Milliseconds since the epoch as an ISO string; null for none. */
export function isoFromMillis(millis: number | undefined | null): string | null {
  return millis === undefined || millis === null ? null : new Date(millis).toISOString();
}

/** A record with its keys in order, so that two backends print it identically. */
export function sortedRecord<V, W>(record: Record<string, V>, convert: (value: V) => W): Record<string, W> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, convert(record[key]!)]),
  );
}
