import type { MessageInitShape } from '@bufbuild/protobuf';
import { NodeDatabaseKind, type NodeCapacity as WireNodeCapacity, type NodeSchema } from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { NodeCapacity, NodeDatabaseKind as StoreNodeKind, RegisteredNode } from '@jobkeep/store';
import { enumName, enumValue, timestamp } from './wire-conversions.js';

/** Registry records as wire messages, and the wire's kinds and capacities as the store's. */

export function nodeToWire(node: RegisteredNode): MessageInitShape<typeof NodeSchema> {
  return {
    id: node.id,
    kind: enumValue<NodeDatabaseKind>(NodeDatabaseKind, node.kind.toUpperCase()),
    address: node.address,
    labels: node.labels,
    capacity: {
      cpuMillis: BigInt(node.capacity.cpuMillis),
      memoryBytes: BigInt(node.capacity.memoryBytes),
      diskBytes: BigInt(node.capacity.diskBytes),
      gpus: node.capacity.gpus,
      slots: node.capacity.slots,
    },
    leaseId: BigInt(node.leaseId),
    online: node.online,
    archived: node.archived,
    registerTime: timestamp(node.registerTime),
    unregisterTime: node.unregisterTime === undefined ? undefined : timestamp(node.unregisterTime),
  };
}

/** The store's kind ('requester', 'compute') of a wire kind; undefined for UNSPECIFIED. */
export function nodeKindFromWire(kind: NodeDatabaseKind, field: string): StoreNodeKind | undefined {
  return enumName<'REQUESTER' | 'COMPUTE'>(NodeDatabaseKind, kind, field)?.toLowerCase() as StoreNodeKind | undefined;
}

export function capacityFromWire(capacity: WireNodeCapacity | undefined): Partial<NodeCapacity> {
  if (capacity === undefined) return {};
  return {
    cpuMillis: int64('capacity.cpu_millis', capacity.cpuMillis),
    memoryBytes: int64('capacity.memory_bytes', capacity.memoryBytes),
    diskBytes: int64('capacity.disk_bytes', capacity.diskBytes),
    gpus: capacity.gpus,
    slots: capacity.slots,
  };
}

/** An int64 the store can hold exactly; the store itself refuses negative values. */
function int64(field: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw invalidArgument(`${field} ${value} is beyond ${Number.MAX_SAFE_INTEGER}`);
  }
  return Number(value);
}

/** A wire lease id (uint64) as a store one; ids beyond 2^53 are never handed out. */
export function leaseIdFromWire(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`lease_id ${value} is not a lease id`);
  return Number(value);
}
