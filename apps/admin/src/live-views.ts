import {
  DatabaseLifecycle,
  JobEventType,
  JobState,
  NodeDatabaseKind,
  TokenRole,
  type AccessToken,
  type DatabaseInfo,
  type DatabaseStats,
  type JobEvent,
  type Lock,
  type Node,
  type RetentionOutcome,
} from '@jobkeep/api';
import {
  sortedRecord,
  type AccessTokenView,
  type DatabaseStatsView,
  type DatabaseView,
  type JobEventView,
  type LockView,
  type NodeView,
  type RetentionOutcomeView,
  type TokenRoleName,
} from './admin-views.js';

/* The wire's messages as the views the commands print (see admin-views.ts). */

type Timestamp = { seconds: bigint; nanos: number } | undefined;

function isoTime(timestamp: Timestamp): string | null {
  return timestamp === undefined ? null : new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000)).toISOString();
}

/** An enum value's name, or '' for UNSPECIFIED (what the store calls "none"). */
function enumName(names: Record<number, string>, value: number): string {
  return value === 0 ? '' : (names[value] ?? String(value));
}

const kindName = (kind: NodeDatabaseKind) => enumName(NodeDatabaseKind, kind).toLowerCase();

export function databaseFromWire(info: DatabaseInfo): DatabaseView {
  return {
    name: info.name,
    nodeId: info.nodeId,
    kind: info.kind === NodeDatabaseKind.UNSPECIFIED ? 'coordination' : (kindName(info.kind) as DatabaseView['kind']),
    path: info.path,
    lifecycle: info.lifecycle === DatabaseLifecycle.UNSPECIFIED ? null : enumName(DatabaseLifecycle, info.lifecycle),
    sizeBytes: Number(info.sizeBytes),
    counts: sortedRecord(info.counts, Number),
    createTime: isoTime(info.createTime),
    exists: info.exists,
  };
}

export function statsFromWire(stats: DatabaseStats): DatabaseStatsView {
  const history = stats.history;
  return {
    path: stats.path,
    fileBytes: Number(stats.fileBytes),
    walBytes: Number(stats.walBytes),
    pageSize: Number(stats.pageSize),
    pageCount: Number(stats.pageCount),
    freelistCount: Number(stats.freelistCount),
    objects: stats.objects.map((object) => ({
      name: object.name,
      type: object.type,
      table: object.table,
      rows: Number(object.rows),
      pages: Number(object.pages),
      bytes: Number(object.bytes),
    })),
    history:
      history === undefined
        ? null
        : {
            rows: Number(history.rows),
            firstRevision: Number(history.firstRevision),
            lastRevision: Number(history.lastRevision),
            firstTime: isoTime(history.firstTime),
            lastTime: isoTime(history.lastTime),
            compactedRevision: Number(history.compactedRevision),
          },
  };
}

export function nodeFromWire(node: Node): NodeView {
  const capacity = node.capacity;
  return {
    id: node.id,
    kind: kindName(node.kind),
    address: node.address,
    labels: sortedRecord(node.labels, String),
    capacity: {
      cpuMillis: Number(capacity?.cpuMillis ?? 0n),
      memoryBytes: Number(capacity?.memoryBytes ?? 0n),
      diskBytes: Number(capacity?.diskBytes ?? 0n),
      gpus: capacity?.gpus ?? 0,
      slots: capacity?.slots ?? 0,
    },
    leaseId: Number(node.leaseId),
    online: node.online,
    archived: node.archived,
    registerTime: isoTime(node.registerTime),
    unregisterTime: isoTime(node.unregisterTime),
  };
}

export function lockFromWire(lock: Lock): LockView {
  return {
    name: lock.name,
    holderLeaseId: lock.holderLeaseId === 0n ? null : Number(lock.holderLeaseId),
    fencingToken: Number(lock.fencingToken),
    acquireTime: isoTime(lock.acquireTime),
    waiterLeaseIds: lock.waiterLeaseIds.map(Number),
    availableTime: isoTime(lock.availableTime),
  };
}

export function jobEventFromWire(event: JobEvent): JobEventView {
  return {
    revision: Number(event.revision),
    jobId: event.jobId,
    executionId: event.executionId,
    type: enumName(JobEventType, event.type),
    previousState: enumName(JobState, event.previousState),
    newState: enumName(JobState, event.newState),
    message: event.message,
    time: isoTime(event.time),
    batchId: event.batchId,
  };
}

export function retentionFromWire(outcome: RetentionOutcome): RetentionOutcomeView {
  return {
    database: outcome.database,
    failed: sortedRecord(outcome.failed, Number),
    deleted: sortedRecord(outcome.deleted, Number),
    historyRowsRemoved: Number(outcome.historyRowsRemoved),
    batchesDeleted: Number(outcome.batchesDeleted),
    requestIdsRemoved: Number(outcome.requestIdsRemoved),
  };
}

export function accessTokenFromWire(token: AccessToken): AccessTokenView {
  return {
    id: token.id,
    name: token.name,
    role: enumName(TokenRole, token.role).toLowerCase() as TokenRoleName,
    nodeIds: [...token.nodeIds],
    createTime: isoTime(token.createTime),
    revokeTime: isoTime(token.revokeTime),
  };
}
