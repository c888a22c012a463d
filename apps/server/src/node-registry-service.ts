import {
  OnlineFilter,
  type NodeRegistryGetRequest,
  type NodeRegistryListRequest,
  type RegisterRequest,
  type UnregisterRequest,
} from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { NodeRegistryStore } from '@jobkeep/store';
import { capacityFromWire, leaseIdFromWire, nodeKindFromWire, nodeToWire } from './node-wire.js';
import { enumName, required } from './wire-conversions.js';

/**
 * jobkeep.v1.NodeRegistry: each handler turns its request into a registry call and the stored
 * node back into a response. Requests arrive checked against their rules
 * (node-registry-requests.ts); the store checks content again for its other callers.
 */
export function nodeRegistryHandlers(registry: NodeRegistryStore) {
  return {
    async register(request: RegisterRequest) {
      const node = required(request.node, 'node');
      const kind = nodeKindFromWire(node.kind, 'node.kind');
      if (kind === undefined) throw invalidArgument('node.kind is required: REQUESTER or COMPUTE');
      // Output-only fields (node.lease_id, online, archived, the times) are ignored.
      const registered = await registry.register({
        id: node.id,
        kind,
        address: node.address,
        labels: node.labels,
        capacity: capacityFromWire(node.capacity),
        leaseId: leaseIdFromWire(request.leaseId),
      });
      return { node: nodeToWire(registered) };
    },

    async unregister(request: UnregisterRequest) {
      return { node: nodeToWire(await registry.unregister(request.nodeId)) };
    },

    async get(request: NodeRegistryGetRequest) {
      return { node: nodeToWire(await registry.get(request.nodeId)) };
    },

    async list(request: NodeRegistryListRequest) {
      const online = enumName<'ONLINE' | 'OFFLINE'>(OnlineFilter, request.online, 'online');
      const page = await registry.list({
        kind: nodeKindFromWire(request.kind, 'kind'),
        online: online === undefined ? undefined : online === 'ONLINE',
        labelSelector: request.labelSelector,
        includeArchived: request.includeArchived,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { nodes: page.items.map(nodeToWire), nextPageToken: page.nextPageToken };
    },
  };
}
