import type { CheckpointStore } from '@jobkeep/api';
import { checkCheckpointName, checkCheckpointPrefix } from '@jobkeep/store';
import { blob, enumValue, identifier, pageSize, pageToken, revision, value, type ServiceRules } from './request-rules.js';

const checkpointName = () => value<string>((name, path) => void checkCheckpointName(name, path));

/** Every field of every jobkeep.v1.CheckpointStore request. */
export const CHECKPOINT_STORE_REQUESTS: ServiceRules<typeof CheckpointStore> = {
  putCheckpoint: {
    nodeId: identifier(),
    kind: enumValue({ required: true }),
    name: checkpointName(),
    data: blob(),
    expectedRevision: revision(),
  },
  getCheckpoint: {
    nodeId: identifier(),
    kind: enumValue({ required: true }),
    name: checkpointName(),
  },
  listCheckpoints: {
    nodeId: identifier(),
    kind: enumValue({ required: true }),
    prefix: value<string>((prefix, path) => void checkCheckpointPrefix(prefix, path)),
    pageSize: pageSize(),
    pageToken: pageToken(),
  },
};
