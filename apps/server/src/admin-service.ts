import { setImmediate as yieldToIo } from 'node:timers/promises';
import type {
  BackupDatabaseRequest,
  CallContext,
  CheckDatabaseRequest,
  CompactDatabaseRequest,
  DrainNodeRequest,
  ExportDatabaseRequest,
  GetDatabaseStatsRequest,
  GetRowsRequest,
  ImportDatabaseRequest,
  ListKeysRequest,
  ListTablesRequest,
  RetireNodeRequest,
  RunRetentionRequest,
} from '@jobkeep/api';
import { invalidArgument, notFound, resourceExhausted, unavailable } from '@jobkeep/errors';
import { existingDatabase, exportDatabase, getRows, listDatabaseInfos, listKeys, type DrainProgress, type Storage } from '@jobkeep/store';
import { accessTokenHandlers } from './access-token-handlers.js';
import { adminTempRoot, copyDirectories, streamCopy } from './admin-copy-stream.js';
import { runFileTask, type FileTaskArgs, type FileTaskName, type FileTaskResult } from './admin-file-tasks.js';
import { databaseInfoToWire, databaseStatsToWire, retentionOutcomeToWire, tableInfoToWire } from './admin-wire.js';

export interface AdminSettings {
  /** How long a streamed response may wait for a caller that reads nothing before the stream ends. */
  stallTimeoutMs: number;
  /** Aborted when the server shuts down: streams end with UNAVAILABLE, a drain stops between steps. */
  stopping: AbortSignal;
}

/** An export message holds up to this many lines, or about this many bytes, whichever comes first. */
export const EXPORT_MESSAGE_LINES = 1000;
export const EXPORT_MESSAGE_BYTES = 256 * 1024;
/** An import message holds at most this many lines (the admin tool sends 500 at a time). */
export const IMPORT_MESSAGE_LINES = 10_000;
/** The least time between two progress messages of a drain (its last one is always sent). */
export const DRAIN_PROGRESS_INTERVAL_MS = 100;

/**
 * jobkeep.v1.AdminService: reads open the named file read-only (one snapshot each, beside the
 * server's own connections), copies are made to a temporary file and streamed, and the writes
 * (import, retention, drain, retire) go through the server's own storage. Work that reads or
 * copies a whole file (check, tables, stats, compact, backup) runs on a worker thread (see
 * admin-file-tasks.ts), so that the event loop keeps serving leases, locks and jobs meanwhile;
 * reads bounded by their request (keys, rows, export pages) stay on it. Access tokens are
 * managed in access-token-handlers.ts.
 */
export function adminServiceHandlers(storage: Storage, settings: AdminSettings) {
  const database = (name: string) => existingDatabase(storage.locations, name);
  const copies = copyDirectories(adminTempRoot(storage.locations.dataDir));
  const inWorker = fileTaskRunner(settings.stopping);

  return {
    async listDatabases() {
      return { databases: listDatabaseInfos(storage.locations).map(databaseInfoToWire) };
    },

    async checkDatabase(request: CheckDatabaseRequest, context: CallContext) {
      const { ref, file } = database(request.database);
      return { problems: await inWorker('checkDatabaseFile', [ref.kind, file], context, `the check of ${request.database}`) };
    },

    async listTables(request: ListTablesRequest, context: CallContext) {
      const tables = await inWorker('listTables', [database(request.database).file], context, `the tables of ${request.database}`);
      return { tables: tables.map(tableInfoToWire) };
    },

    async getDatabaseStats(request: GetDatabaseStatsRequest, context: CallContext) {
      const stats = await inWorker('readDatabaseStats', [database(request.database).file], context, `the stats of ${request.database}`);
      return { stats: databaseStatsToWire(stats) };
    },

    async listKeys(request: ListKeysRequest) {
      const { file } = database(request.database);
      // 0 is proto3's "not given": the store applies its default.
      return listKeys(file, request.table, { prefix: request.prefix, limit: request.limit === 0 ? undefined : request.limit });
    },

    async getRows(request: GetRowsRequest) {
      const rows = getRows(database(request.database).file, request.table, request.key);
      if (rows.length === 0) throw notFound(`no row of ${request.table} has key ${request.key}`);
      return { rowsJson: rows.map((row) => JSON.stringify(row)) };
    },

    async *compactDatabase(request: CompactDatabaseRequest, context: CallContext) {
      const { file } = database(request.database);
      const what = `the compacted copy of ${request.database}`;
      limitStall(context, settings, what);
      yield* streamCopy(copies, file, (dest) => inWorker('compactDatabase', [file, dest], context, what), context.signal);
    },

    async *backupDatabase(request: BackupDatabaseRequest, context: CallContext) {
      const { file } = database(request.database);
      const what = `the backup of ${request.database}`;
      limitStall(context, settings, what);
      yield* streamCopy(copies, file, (dest) => inWorker('backupDatabase', [file, dest], context, what), context.signal);
    },

    async *exportDatabase(request: ExportDatabaseRequest, context: CallContext) {
      const exported = exportDatabase(database(request.database).file);
      try {
        limitStall(context, settings, `the export of ${request.database}`);
        // The header line comes first, so the first message always carries total_rows.
        let totalRows = BigInt(exported.totalRows);
        for (const lines of groupLines(exported.lines())) {
          yield { totalRows, lines };
          totalRows = 0n;
        }
      } finally {
        // The export holds a read snapshot until closed: a cancelled call must not keep it.
        exported.close();
      }
    },

    async importDatabase(requests: AsyncIterable<ImportDatabaseRequest>, context: CallContext) {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done === true || first.value.database === '') {
        throw invalidArgument('the first ImportDatabaseRequest must name the database to import into');
      }
      const name = first.value.database;
      const imported = await storage.admin.importDatabase(name, importedLines(name, first.value.lines, iterator, context.signal));
      return { rowsImported: BigInt(imported.rowsImported), unchanged: imported.unchanged };
    },

    async runRetention(request: RunRetentionRequest) {
      const reports = await storage.admin.runRetention(request.database === '' ? undefined : request.database, request.dryRun);
      return { outcomes: reports.map(retentionOutcomeToWire) };
    },

    async *drainNode(request: DrainNodeRequest, context: CallContext) {
      limitStall(context, settings, `the progress of the drain of ${request.sourceNodeId}`);
      yield* drainWithProgress(storage, request, context, settings);
    },

    async retireNode(request: RetireNodeRequest) {
      const retired = storage.admin.retireNode(request.nodeId);
      const isRetired = (info: { nodeId: string; kind: string }) =>
        retired.some((entry) => entry.nodeId === info.nodeId && entry.kind === info.kind);
      return { databases: listDatabaseInfos(storage.locations).filter(isRetired).map(databaseInfoToWire) };
    },

    ...accessTokenHandlers(storage.accessTokens),
  };
}

/**
 * A caller that stops reading would otherwise hold its copy (or its export's read snapshot)
 * open for as long as it stays connected; it is dropped after the same wait as a stalled watch.
 */
function limitStall(context: CallContext, settings: AdminSettings, what: string): void {
  context.limitStall(settings.stallTimeoutMs, () => resourceExhausted(`${what} was dropped: the caller read nothing for ${settings.stallTimeoutMs} ms`), {
    signal: settings.stopping,
    error: () => unavailable(`the server is shutting down: ${what} was not finished; ask again once it is back`),
  });
}

/**
 * runFileTask for a call: the worker stops when the call is cancelled or the server shuts down,
 * and a task cut short by the shutdown fails with UNAVAILABLE, naming `what` was not done.
 */
function fileTaskRunner(stopping: AbortSignal) {
  return async <N extends FileTaskName>(name: N, args: FileTaskArgs<N>, context: CallContext, what: string): Promise<FileTaskResult<N>> => {
    try {
      return await runFileTask(name, args, [context.signal, stopping]);
    } catch (error) {
      if (stopping.aborted && !context.signal.aborted) throw unavailable(`the server is shutting down: ${what} was not finished; ask again once it is back`);
      throw error;
    }
  };
}

/** Export lines in messages of at most EXPORT_MESSAGE_LINES lines and about EXPORT_MESSAGE_BYTES. */
function* groupLines(lines: Iterable<string>): Generator<string[]> {
  let group: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    group.push(line);
    bytes += line.length;
    if (group.length >= EXPORT_MESSAGE_LINES || bytes >= EXPORT_MESSAGE_BYTES) {
      yield group;
      group = [];
      bytes = 0;
    }
  }
  if (group.length > 0) yield group;
}

/**
 * The lines of every request of an import. grpc-js ends the request stream of a cancelled call
 * just before it reports the cancellation, so a cut import would look complete: the end of the
 * requests counts only once pending I/O events have run and the call is still not cancelled.
 */
async function* importedLines(
  name: string,
  firstLines: string[],
  rest: AsyncIterator<ImportDatabaseRequest>,
  signal: AbortSignal,
): AsyncGenerator<string> {
  yield* firstLines;
  for (;;) {
    const next = await rest.next();
    if (signal.aborted) throw signal.reason;
    if (next.done === true) break;
    if (next.value.database !== '' && next.value.database !== name) {
      throw invalidArgument(`an import names its database in the first message only: a later one names ${next.value.database}, not ${name}`);
    }
    yield* next.value.lines;
  }
  await yieldToIo();
  if (signal.aborted) throw signal.reason;
}

/**
 * Runs a drain and reports its progress: at most one message per DRAIN_PROGRESS_INTERVAL_MS
 * (each with the latest counts, so a slow caller never queues stale ones), then a last one once
 * the source is retired. The drain stops between steps when the call is cancelled or the server
 * shuts down; each step is idempotent, so running it again finishes the work.
 */
async function* drainWithProgress(storage: Storage, request: DrainNodeRequest, context: CallContext, settings: AdminSettings) {
  // Also aborted when the handler ends early (the caller stopped reading): nobody waits for the drain then.
  const ended = new AbortController();
  const signal = AbortSignal.any([context.signal, settings.stopping, ended.signal]);
  let latest: DrainProgress | undefined;
  let settled = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const running = storage.admin
    .drainNode(request.sourceNodeId, request.targetNodeId, {
      signal,
      onProgress: (progress) => {
        latest = progress;
        poke();
      },
    })
    .finally(() => {
      settled = true;
      poke();
    });
  // Awaited below; this only keeps a drain whose caller went away from being an unhandled rejection.
  running.catch(() => undefined);

  try {
    let lastSentAt = -Infinity;
    while (!settled) {
      const waitMs = latest === undefined ? Infinity : lastSentAt + DRAIN_PROGRESS_INTERVAL_MS - Date.now();
      if (waitMs <= 0 && latest !== undefined) {
        const progress = latest;
        latest = undefined;
        lastSentAt = Date.now();
        yield { moved: BigInt(progress.moved), total: BigInt(progress.total), retired: false };
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(waitMs) ? setTimeout(resolve, waitMs) : undefined;
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const stopped = () => settings.stopping.aborted && !context.signal.aborted;
    const stoppedError = () => unavailable(`the server is shutting down: the drain of ${request.sourceNodeId} stopped between two jobs; run it again to finish`);
    const done = await running.catch((error: unknown) => {
      throw stopped() ? stoppedError() : error;
    });
    // A drain stopped between jobs ends without error; the caller must not take it for a finished one.
    if (!done.retired && stopped()) throw stoppedError();
    yield { moved: BigInt(done.moved), total: BigInt(done.total), retired: done.retired };
  } finally {
    ended.abort();
  }
}
