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

/**
 * Refuses to move a node that is online under another live lease: two agents running under one
 * node id would both act on the node's database (run its executions twice, place its jobs
 * twice). An agent restarted after a crash finds its old lease still live, and waits for it to
 * expire; an archived node, or one whose lease has ended, may be taken at once.
 */
function checkNotOnlineElsewhereInTx(coordination: CoordinationDatabase, node: NewNode, now: number): void {
  const current = coordination
    .statement('SELECT l.id, l.expire_time FROM nodes n JOIN leases l ON l.id = n.lease_id WHERE n.id = ? AND n.archived = 0')
    .get(node.id) as { id: number; expire_time: number } | undefined;
  if (current === undefined || current.id === node.leaseId || current.expire_time <= now) return;
  throw failedPrecondition(
    `node ${node.id} is online under lease ${current.id} until ${new Date(current.expire_time).toISOString()}: ` +
      'another agent runs with this node id, or the last one stopped without revoking its lease. ' +
      `Stop that agent, or revoke lease ${current.id}, or register once it has expired`,
  );
}

/**
 * Inserts the node, or replaces the record of a known id (un-archiving it) with this registration,
 * unless the node is online under another lease.
 */
export function registerNodeInTx(coordination: CoordinationDatabase, node: NewNode, now: number): RegisteredNode {
  checkLeaseLiveInTx(coordination, node.leaseId, now);
  checkNotOnlineElsewhereInTx(coordination, node, now);
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
