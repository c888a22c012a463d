import { Worker } from 'node:worker_threads';
import { JobkeepError, StatusCode, type StatusCodeName } from '@jobkeep/errors';
import type { FileTaskName, FileTaskReply, FileTaskRequest, fileTasks } from './admin-file-worker.js';

type FileTasks = typeof fileTasks;
export type FileTaskArgs<N extends FileTaskName> = Parameters<FileTasks[N]>;
export type FileTaskResult<N extends FileTaskName> = Awaited<ReturnType<FileTasks[N]>>;
export type { FileTaskName };

/**
 * The worker's compiled JavaScript: a worker thread is plain Node and cannot load TypeScript.
 * The server runs from dist, where tsc puts the worker beside this module. Under vitest this
 * module runs from its .ts source, so it takes the worker from the build instead, which the
 * server's test target makes first (its nx test target depends on build).
 */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? '../dist/admin-file-worker.js' : './admin-file-worker.js', import.meta.url);

/**
 * Runs one of the store's file functions (see admin-file-worker.ts) on a thread of its own and
 * settles once that thread has exited, so that whatever the task wrote is no longer being
 * written when the caller cleans up. A JobkeepError of the task is thrown again with its code
 * and message; any other failure becomes a plain Error (INTERNAL on the wire).
 *
 * When a signal aborts, the worker is terminated and the promise rejects with that signal's
 * reason. Termination takes effect only between two JavaScript steps: a VACUUM INTO or backup
 * step under way in SQLite finishes first, which is why the promise waits for the exit.
 */
export function runFileTask<N extends FileTaskName>(
  name: N,
  args: FileTaskArgs<N>,
  signals: readonly AbortSignal[],
): Promise<FileTaskResult<N>> {
  return new Promise((resolve, reject) => {
    const abortedBefore = signals.find((signal) => signal.aborted);
    if (abortedBefore !== undefined) {
      reject(abortedBefore.reason);
      return;
    }
    const request: FileTaskRequest = { name, args };
    // No flags of this process: the worker is compiled JavaScript and must resolve the
    // workspace packages to their builds too, while a process under vitest carries
    // `--conditions jobkeep-source`, which would send it to their TypeScript sources.
    const worker = new Worker(WORKER_URL, { workerData: request, execArgv: [] });
    let reply: FileTaskReply | undefined;
    let failure: unknown;
    const stop = () => void worker.terminate();
    for (const signal of signals) signal.addEventListener('abort', stop, { once: true });
    worker.on('message', (message: FileTaskReply) => {
      reply = message;
    });
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (exitCode) => {
      for (const signal of signals) signal.removeEventListener('abort', stop);
      const aborted = signals.find((signal) => signal.aborted);
      if (aborted !== undefined) reject(aborted.reason);
      else if (reply?.ok === true) resolve(reply.value as FileTaskResult<N>);
      else if (reply !== undefined) reject(replyError(name, reply));
      else reject(failure ?? new Error(`the worker for ${name} exited with code ${exitCode} without replying`));
    });
  });
}

function replyError(name: FileTaskName, reply: Extract<FileTaskReply, { ok: false }>): Error {
  if (reply.code !== 'INTERNAL' && Object.hasOwn(StatusCode, reply.code)) return new JobkeepError(reply.code as StatusCodeName, reply.message);
  const error = new Error(`${name} failed in its worker: ${reply.message}`);
  if (reply.stack !== undefined) error.stack = reply.stack;
  return error;
}
