import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  DatabaseLifecycle,
  NodeDatabaseKind,
  type DatabaseInfoSchema,
  type DatabaseStatsSchema,
  type RetentionOutcomeSchema,
  type TableInfoSchema,
} from '@jobkeep/api';
import { databaseName, type DatabaseInfo, type DatabaseStats, type RetentionReport, type TableInfo } from '@jobkeep/store';
import { enumValue, timestamp } from './wire-conversions.js';

/** The admin store's records as jobkeep.v1.AdminService messages. */

export function databaseInfoToWire(info: DatabaseInfo): MessageInitShape<typeof DatabaseInfoSchema> {
  return {
    name: info.name,
    nodeId: info.nodeId,
    // The store's kinds are lower-case; coordination.db has no kind on the wire.
    kind: enumValue<NodeDatabaseKind>(NodeDatabaseKind, info.kind === 'coordination' ? '' : info.kind.toUpperCase()),
    path: info.path,
    lifecycle: enumValue<DatabaseLifecycle>(DatabaseLifecycle, info.lifecycle),
    sizeBytes: BigInt(info.sizeBytes),
    counts: bigintValues(info.counts),
    createTime: info.createTime === 0 ? undefined : timestamp(info.createTime),
    exists: info.exists,
  };
}

export function tableInfoToWire(table: TableInfo): MessageInitShape<typeof TableInfoSchema> {
  return { name: table.name, rows: BigInt(table.rows), keyColumns: table.keyColumns };
}

export function databaseStatsToWire(stats: DatabaseStats): MessageInitShape<typeof DatabaseStatsSchema> {
  const history = stats.history;
  return {
    path: stats.path,
    fileBytes: BigInt(stats.fileBytes),
    walBytes: BigInt(stats.walBytes),
    pageSize: BigInt(stats.pageSize),
    pageCount: BigInt(stats.pageCount),
    freelistCount: BigInt(stats.freelistCount),
    objects: stats.objects.map((object) => ({
      name: object.name,
      type: object.type,
      table: object.table,
      rows: BigInt(object.rows),
      pages: BigInt(object.pages),
      bytes: BigInt(object.bytes),
    })),
    history: history && {
      rows: BigInt(history.rows),
      firstRevision: BigInt(history.firstRevision),
      lastRevision: BigInt(history.lastRevision),
      // An empty history has no times.
      firstTime: history.rows === 0 ? undefined : timestamp(history.firstTime),
      lastTime: history.rows === 0 ? undefined : timestamp(history.lastTime),
      compactedRevision: BigInt(history.compactedRevision),
    },
  };
}

export function retentionOutcomeToWire(report: RetentionReport): MessageInitShape<typeof RetentionOutcomeSchema> {
  return {
    database: databaseName({ kind: report.kind, nodeId: report.nodeId }),
    failed: bigintValues(report.failed),
    deleted: bigintValues(report.deleted),
    historyRowsRemoved: BigInt(report.historyRowsRemoved),
    batchesDeleted: BigInt(report.batchesDeleted),
    requestIdsRemoved: BigInt(report.requestIdsRemoved),
  };
}

/** uint64 map values are bigints in protobuf-es. */
function bigintValues(counts: Record<string, number>): Record<string, bigint> {
  return Object.fromEntries(Object.entries(counts).map(([key, count]) => [key, BigInt(count)]));
}
