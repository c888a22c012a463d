import type { AccessToken, DatabaseInfo, DatabaseStats, JobEvent, Lock, RegisteredNode, RetentionReport } from '@jobkeep/store';
import {
  isoFromMillis,
  type AccessTokenView,
  sortedRecord,
  type DatabaseStatsView,
  type DatabaseView,
  type JobEventView,
  type LockView,
  type NodeView,
  type RetentionOutcomeView,
} from './admin-views.js';

/* The store's records as the views the commands print (see admin-views.ts), as live-views.ts does for the wire. */

export function databaseFromStore(info: DatabaseInfo): DatabaseView {
  return {
    name: info.name,
    nodeId: info.nodeId,
    kind: info.kind,
    path: info.path,
    lifecycle: info.lifecycle === '' ? null : info.lifecycle,
    sizeBytes: info.sizeBytes,
    counts: sortedRecord(info.counts, Number),
    // 0: no time recorded (coordination.db).
    createTime: info.createTime === 0 ? null : isoFromMillis(info.createTime),
    exists: info.exists,
  };
}

export function statsFromStore(stats: DatabaseStats): DatabaseStatsView {
  const history = stats.history;
  return {
    path: stats.path,
    fileBytes: stats.fileBytes,
    walBytes: stats.walBytes,
    pageSize: stats.pageSize,
    pageCount: stats.pageCount,
    freelistCount: stats.freelistCount,
    objects: stats.objects.map(({ name, type, table, rows, pages, bytes }) => ({ name, type, table, rows, pages, bytes })),
    history:
      history === undefined
        ? null
        : {
            rows: history.rows,
            firstRevision: history.firstRevision,
            lastRevision: history.lastRevision,
            // An empty history has no times.
            firstTime: history.rows === 0 ? null : isoFromMillis(history.firstTime),
            lastTime: history.rows === 0 ? null : isoFromMillis(history.lastTime),
            compactedRevision: history.compactedRevision,
          },
  };
}

export function nodeFromStore(node: RegisteredNode): NodeView {
  return {
    id: node.id,
    kind: node.kind,
    address: node.address,
    labels: sortedRecord(node.labels, String),
    capacity: { ...node.capacity },
    leaseId: node.leaseId,
    online: node.online,
    archived: node.archived,
    registerTime: isoFromMillis(node.registerTime),
    unregisterTime: isoFromMillis(node.unregisterTime),
  };
}

export function lockFromStore(lock: Lock): LockView {
  return {
    name: lock.name,
    holderLeaseId: lock.holderLeaseId,
    fencingToken: lock.fencingToken,
    acquireTime: isoFromMillis(lock.acquireTime),
    waiterLeaseIds: [...lock.waiterLeaseIds],
    availableTime: isoFromMillis(lock.availableTime),
  };
}

export function jobEventFromStore(event: JobEvent): JobEventView {
  return {
    revision: event.revision,
    jobId: event.jobId,
    executionId: event.executionId,
    type: event.type,
    previousState: event.previousState,
    newState: event.newState,
    message: event.message,
    time: isoFromMillis(event.time),
    batchId: event.batchId,
  };
}

export function retentionFromStore(report: RetentionReport): RetentionOutcomeView {
  return {
    database: `${report.nodeId}-${report.kind}`,
    failed: sortedRecord(report.failed, Number),
    deleted: sortedRecord(report.deleted, Number),
    historyRowsRemoved: report.historyRowsRemoved,
    batchesDeleted: report.batchesDeleted,
    requestIdsRemoved: report.requestIdsRemoved,
  };
}

export function accessTokenFromStore(token: AccessToken): AccessTokenView {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    nodeIds: [...token.nodeIds],
    createTime: token.createdAt.toISOString(),
    revokeTime: token.revokedAt?.toISOString() ?? null,
  };
}
