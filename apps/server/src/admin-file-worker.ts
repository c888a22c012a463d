import { parentPort, workerData } from 'node:worker_threads';
import { isJobkeepError } from '@jobkeep/errors';
import { backupDatabase, checkDatabaseFile, compactDatabase, listTables, readDatabaseStats } from '@jobkeep/store';

/**
 * The admin work on whole files that takes as long as the file is large: a VACUUM INTO, a backup,
 * an integrity check, dbstat scans, a count(*) of every table. better-sqlite3 runs each one as a
 * single synchronous call, so on the server's event loop it would stall every other call, lease
 * keep-alives included, for seconds on a large database. Here each runs on a thread of its own.
 */
export const fileTasks = { compactDatabase, backupDatabase, checkDatabaseFile, readDatabaseStats, listTables };

export type FileTaskName = keyof typeof fileTasks;

export interface FileTaskRequest {
  name: FileTaskName;
  args: unknown[];
}

/** What the worker posts back: the task's result, or its failure as a status code and message. */
export type FileTaskReply = { ok: true; value: unknown } | { ok: false; code: string; message: string; stack?: string };

async function run(request: FileTaskRequest): Promise<FileTaskReply> {
  try {
    const task = fileTasks[request.name] as (...args: unknown[]) => unknown;
    return { ok: true, value: await task(...request.args) };
  } catch (error) {
    // A JobkeepError cannot cross the thread as itself (structured cloning keeps no class), so
    // its code travels beside its message and the main thread rebuilds it.
    if (isJobkeepError(error)) return { ok: false, code: error.code, message: error.message };
    const failure = error instanceof Error ? error : new Error(String(error));
    return { ok: false, code: 'INTERNAL', message: failure.message, stack: failure.stack };
  }
}

// One task per worker, given at its start: the worker ends once it has replied.
if (parentPort !== null) parentPort.postMessage(await run(workerData as FileTaskRequest));
