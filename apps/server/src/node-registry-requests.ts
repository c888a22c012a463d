import type { Node, NodeCapacity, NodeRegistry } from '@jobkeep/api';
import { checkAddress } from '@jobkeep/store';
import {
  anyValue,
  enumValue,
  handedOut,
  identifier,
  ignored,
  integer,
  labels,
  message,
  pageSize,
  pageToken,
  value,
  type FieldRules,
  type ServiceRules,
} from './request-rules.js';

const OUTPUT_ONLY = 'output only';
const INT32_MAX = 2 ** 31 - 1;

/** Capacities are counts and sizes: never negative, and exact in the store's numbers. */
const capacity: FieldRules<NodeCapacity> = {
  cpuMillis: integer(0, Number.MAX_SAFE_INTEGER),
  memoryBytes: integer(0, Number.MAX_SAFE_INTEGER),
  diskBytes: integer(0, Number.MAX_SAFE_INTEGER),
  gpus: integer(0, INT32_MAX),
  slots: integer(0, INT32_MAX),
};

const newNode: FieldRules<Node> = {
  id: identifier(),
  kind: enumValue({ required: true }),
  address: value<string>((address, path) => void checkAddress(address, path)),
  labels: labels('a node'),
  capacity: message<NodeCapacity>(capacity),
  leaseId: ignored('output only: a node registers under the request\'s lease_id'),
  online: ignored(OUTPUT_ONLY),
  archived: ignored(OUTPUT_ONLY),
  registerTime: ignored(OUTPUT_ONLY),
  unregisterTime: ignored(OUTPUT_ONLY),
};

/** Every field of every jobkeep.v1.NodeRegistry request. */
export const NODE_REGISTRY_REQUESTS: ServiceRules<typeof NodeRegistry> = {
  register: {
    node: message<Node>(newNode, { required: true }),
    leaseId: handedOut('a lease id from Grant: a node registers under a lease'),
  },
  unregister: { nodeId: identifier() },
  get: { nodeId: identifier() },
  list: {
    kind: enumValue(),
    online: enumValue(),
    labelSelector: labels('a label selector'),
    includeArchived: anyValue(),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
};
