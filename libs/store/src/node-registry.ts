import type { NodeDatabaseKind } from './database-locations.js';
import type { Page, PageRequest } from './job-store.js';

/**
 * What the NodeRegistry service needs of coordination.db. A node registers under a lease and is
 * online while that lease lives, so a node that stops keeping its lease alive goes offline by
 * itself. Unregistering archives the record; it is never deleted.
 */
export interface NodeRegistryStore {
  /**
   * Records a node under a live lease. Registering an id that is already known replaces its
   * kind, address, labels, capacity and lease, and un-archives it: a node that restarts
   * registers again under its new lease. An unknown lease is NOT_FOUND, an expired one
   * FAILED_PRECONDITION; so is a node online under another live lease (a second agent with the
   * same id, or a crashed one whose lease has yet to expire), which keeps its registration.
   */
  register(input: RegisterNodeInput): Promise<RegisteredNode>;
  /** Archives a node (idempotent); NOT_FOUND when the id was never registered. */
  unregister(nodeId: string): Promise<RegisteredNode>;
  /** A node, archived or not. */
  get(nodeId: string): Promise<RegisteredNode>;
  /** Nodes by id, filtered; archived nodes only when `includeArchived`. */
  list(query: NodeListQuery): Promise<Page<RegisteredNode>>;
}

/** What a node offers; every figure is non-negative, zero when unknown. */
export interface NodeCapacity {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  gpus: number;
  /** How many executions the node runs at once. */
  slots: number;
}

export interface RegisteredNode {
  id: string;
  kind: NodeDatabaseKind;
  /** host:port of the node's agent. */
  address: string;
  labels: Record<string, string>;
  capacity: NodeCapacity;
  /** The lease the node registered under; 0 once that lease is gone (expired and swept, or revoked). */
  leaseId: number;
  /** The node is not archived and its lease has not expired. */
  online: boolean;
  archived: boolean;
  /** Milliseconds since the Unix epoch, of the latest registration. */
  registerTime: number;
  /** When the node was archived; undefined while it is not. */
  unregisterTime: number | undefined;
}

export interface RegisterNodeInput {
  id: string;
  kind: NodeDatabaseKind;
  address: string;
  labels?: Record<string, string>;
  capacity?: Partial<NodeCapacity>;
  leaseId: number;
}

export interface NodeListQuery extends PageRequest {
  /** Both kinds when absent. */
  kind?: NodeDatabaseKind;
  /** true: online nodes only; false: offline only; absent: both. */
  online?: boolean;
  /** Every pair must be among the node's labels. */
  labelSelector?: Record<string, string>;
  includeArchived?: boolean;
}
