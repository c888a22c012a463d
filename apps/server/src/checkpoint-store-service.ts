import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  NodeDatabaseKind,
  type CheckpointSchema,
  type GetCheckpointRequest,
  type ListCheckpointsRequest,
  type PutCheckpointRequest,
} from '@jobkeep/api';
import type { Checkpoint, CheckpointInfo, CheckpointStore, NodeDatabaseKind as StoreDatabaseKind } from '@jobkeep/store';
import { requiredEnumName, revisionNumber, timestamp } from './wire-conversions.js';

/**
 * jobkeep.v1.CheckpointStore: named blobs in a node's requester or compute database. Requests
 * arrive checked against their rules (checkpoint-store-requests.ts).
 */
export function checkpointStoreHandlers(store: CheckpointStore) {
  return {
    async putCheckpoint(request: PutCheckpointRequest) {
      const checkpoint = await store.putCheckpoint(request.nodeId, databaseKind(request.kind), {
        name: request.name,
        data: request.data,
        expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
      });
      return { checkpoint: checkpointToWire(checkpoint) };
    },

    async getCheckpoint(request: GetCheckpointRequest) {
      return { checkpoint: checkpointToWire(await store.getCheckpoint(request.nodeId, databaseKind(request.kind), request.name)) };
    },

    async listCheckpoints(request: ListCheckpointsRequest) {
      const page = await store.listCheckpoints(request.nodeId, databaseKind(request.kind), {
        prefix: request.prefix,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { checkpoints: page.items.map(checkpointToWire), nextPageToken: page.nextPageToken };
    },
  };
}

/** The store names kinds as the files do ("requester", "compute"); the wire, by enum. */
function databaseKind(kind: NodeDatabaseKind): StoreDatabaseKind {
  return requiredEnumName<'REQUESTER' | 'COMPUTE'>(NodeDatabaseKind, kind, 'kind').toLowerCase() as StoreDatabaseKind;
}

function checkpointToWire(checkpoint: Checkpoint | CheckpointInfo): MessageInitShape<typeof CheckpointSchema> {
  return {
    name: checkpoint.name,
    data: 'data' in checkpoint ? checkpoint.data : undefined,
    revision: BigInt(checkpoint.revision),
    modifyTime: timestamp(checkpoint.modifyTime),
  };
}
