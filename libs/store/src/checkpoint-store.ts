import type { NodeDatabaseKind } from './database-locations.js';
import type { Page, PageRequest } from './job-store.js';

/**
 * Named blobs a node keeps in its own database (requester or compute) and reads back after a
 * restart: an orchestrator's checkpoint, the last revision a watcher processed. Each checkpoint
 * has its own revision (1 on its first write, one more on each later write), apart from the
 * database's record history, so saving progress never shows up as a change to watch.
 */
export interface CheckpointStore {
  /** Creates or replaces a checkpoint; the only call that may create the node's database. */
  putCheckpoint(nodeId: string, kind: NodeDatabaseKind, input: PutCheckpointInput): Promise<Checkpoint>;
  getCheckpoint(nodeId: string, kind: NodeDatabaseKind, name: string): Promise<Checkpoint>;
  /** By name, without the data. */
  listCheckpoints(nodeId: string, kind: NodeDatabaseKind, query: CheckpointQuery): Promise<Page<CheckpointInfo>>;
}

export interface Checkpoint {
  name: string;
  data: Uint8Array;
  revision: number;
  /** Milliseconds since the Unix epoch. */
  modifyTime: number;
}

export type CheckpointInfo = Omit<Checkpoint, 'data'>;

export interface PutCheckpointInput {
  name: string;
  data: Uint8Array;
  /** Write only if the checkpoint is at this revision; 0 means only if it does not exist yet. */
  expectedRevision?: number;
}

export interface CheckpointQuery extends PageRequest {
  /** Only names starting with this; all when absent or empty. */
  prefix?: string;
}
