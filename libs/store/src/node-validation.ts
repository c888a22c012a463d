import { invalidArgument } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import { checkNodeId } from './identifiers.js';
import { checkLabels, checkOneOf } from './job-validation.js';
import type { NodeCapacity, RegisterNodeInput } from './node-registry.js';

export const NODE_KINDS: readonly NodeDatabaseKind[] = ['requester', 'compute'];

/** A host name, an IPv4 address or a bracketed IPv6 address, then a port. */
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;

/** A registration as it will be written: every field present and checked. */
export type NewNode = Required<Omit<RegisterNodeInput, 'capacity'>> & { capacity: NodeCapacity };

export function checkNewNode(input: RegisterNodeInput): NewNode {
  return {
    id: checkNodeId(input.id),
    kind: checkNodeKind('kind', input.kind),
    address: checkAddress(input.address),
    labels: checkLabels(input.labels ?? {}, 'a node'),
    capacity: checkCapacity(input.capacity ?? {}),
    leaseId: checkLeaseId(input.leaseId),
  };
}

export function checkNodeKind(what: string, kind: string): NodeDatabaseKind {
  return checkOneOf(what, NODE_KINDS, kind);
}

export function checkAddress(address: string, what = 'address'): string {
  if (address === '') throw invalidArgument(`${what} is required, as host:port`);
  const match = HOST_PORT.exec(address);
  const port = match === null ? 0 : Number(match[2]);
  if (port < 1 || port > 65535) {
    throw invalidArgument(`${what} ${JSON.stringify(address)} is not host:port with a port from 1 to 65535`);
  }
  return address;
}

function checkCapacity(capacity: Partial<NodeCapacity>): NodeCapacity {
  const checked: NodeCapacity = {
    cpuMillis: capacity.cpuMillis ?? 0,
    memoryBytes: capacity.memoryBytes ?? 0,
    diskBytes: capacity.diskBytes ?? 0,
    gpus: capacity.gpus ?? 0,
    slots: capacity.slots ?? 0,
  };
  for (const [field, value] of Object.entries(checked)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw invalidArgument(`capacity.${snakeCase(field)} must be a non-negative integer, not ${value}`);
    }
  }
  return checked;
}

export function checkLeaseId(leaseId: number): number {
  if (leaseId === 0) throw invalidArgument('lease_id is required: a node registers under a lease');
  if (!Number.isSafeInteger(leaseId) || leaseId < 0) throw invalidArgument(`lease_id ${leaseId} is not a lease id`);
  return leaseId;
}

function snakeCase(field: string): string {
  return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
