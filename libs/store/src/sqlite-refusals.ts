import { resourceExhausted, unavailable, type JobkeepError } from '@jobkeep/errors';

/** How the schema's triggers begin the refusals they raise with RAISE(ABORT, ...). */
const TRIGGER_REFUSAL = 'jobkeep: ';

/**
 * Refusals that come from SQLite rather than from the store's own checks, as the status a
 * caller can act on; undefined for any other error.
 * - The schema's triggers refuse some writes with RAISE(ABORT, 'jobkeep: ...'): a write to a
 *   job a drain is moving (job-moves-schema.ts). UNAVAILABLE: the retry learns where it went.
 * - SQLITE_BUSY: another process held the file's write lock past the busy timeout. UNAVAILABLE.
 * - SQLITE_FULL: the file could not grow, its disk being full. RESOURCE_EXHAUSTED, as gRPC
 *   defines it for a full file system: a retry fails the same way until someone frees space.
 *   SQLite has undone the failed statement (or the whole transaction) by then.
 */
export function refusalBySql(file: string, error: unknown): JobkeepError | undefined {
  const { code, message } = error as { code?: string; message?: string };
  if (code === 'SQLITE_CONSTRAINT_TRIGGER' && message?.startsWith(TRIGGER_REFUSAL)) return unavailable(message.slice(TRIGGER_REFUSAL.length));
  if (code === 'SQLITE_BUSY') return unavailable(`${file} is locked by another process; try again`);
  if (code === 'SQLITE_FULL') return resourceExhausted(`${file} cannot grow: its disk is full, and nothing of this write was kept; free space there, then try again`);
  return undefined;
}

/** Runs `write`, throwing a refusal raised by SQLite as its status (see refusalBySql). */
export function refusalsRaisedBySql<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw refusalBySql(file, error) ?? error;
  }
}
