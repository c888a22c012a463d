import { failedPrecondition, notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import { selectNodeById } from './node-reads.js';
import type { RegisteredNode } from './node-registry.js';
import type { NewNode } from './node-validation.js';

/*
 * The bodies of the node registry's write transactions on coordination.db. Each runs inside a
 * transaction its caller (the store facade) owns, as the "InTx" suffix says.
 */

function checkLeaseLiveInTx(coordination: CoordinationDatabase, leaseId: number, now: number): void {
  const lease = coordination.statement('SELECT expire_time FROM leases WHERE id = ?').get(leaseId) as
    | { expire_time: number }
    | undefined;
  if (lease === undefined) throw notFound(`lease ${leaseId} not found: it was never granted, or it expired or was revoked`);
  if (lease.expire_time <= now) {
    throw failedPrecondition(`lease ${leaseId} expired at ${new Date(lease.expire_time).toISOString()}; grant a new one`);
  }
}

/** Inserts the node, or replaces the record of a known id (un-archiving it) with this registration. */
export function registerNodeInTx(coordination: CoordinationDatabase, node: NewNode, now: number): RegisteredNode {
  checkLeaseLiveInTx(coordination, node.leaseId, now);
  coordination
    .statement(
      `INSERT INTO nodes (id, kind, address, labels, capacity, lease_id, archived, register_time, unregister_time)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, address = excluded.address, labels = excluded.labels,
         capacity = excluded.capacity, lease_id = excluded.lease_id, archived = 0,
         register_time = excluded.register_time, unregister_time = NULL`,
    )
    .run(node.id, node.kind, node.address, JSON.stringify(node.labels), JSON.stringify(node.capacity), node.leaseId, now);
  coordination.statement('DELETE FROM node_labels WHERE node_id = ?').run(node.id);
  const insertLabel = coordination.statement('INSERT INTO node_labels (node_id, key, value) VALUES (?, ?, ?)');
  for (const [key, value] of Object.entries(node.labels)) insertLabel.run(node.id, key, value);
  return selectNodeById(coordination, node.id, now);
}

/** Archives the node; archiving an archived node keeps its first unregister time. */
export function unregisterNodeInTx(coordination: CoordinationDatabase, nodeId: string, now: number): RegisteredNode {
  selectNodeById(coordination, nodeId, now);
  coordination
    .statement('UPDATE nodes SET archived = 1, unregister_time = ? WHERE id = ? AND archived = 0')
    .run(now, nodeId);
  return selectNodeById(coordination, nodeId, now);
}
