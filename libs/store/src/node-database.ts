import { unavailable } from '@jobkeep/errors';
import type { SqliteDatabase } from './sqlite-connection.js';
import { SqliteHandle } from './sqlite-handle.js';

/**
 * One open SQLite file and the only way to change it. Every write goes through `write`, so that
 * group commit (several waiting writes sharing one transaction and one fsync) changes this
 * class alone; reads go through `read` and see one consistent snapshot.
 */
export class NodeDatabase extends SqliteHandle {
  constructor(
    db: SqliteDatabase,
    readonly file: string,
    /** Told after every commit of `write`, so that watches read the history again. */
    private readonly onCommit: () => void = () => {},
    /**
     * Throws FAILED_PRECONDITION once the database is draining or retired. Creates call it
     * after looking up their request id, so that a retried create still gets its first answer.
     */
    readonly admitNewRecords: () => void = () => {},
  ) {
    super(db);
  }

  /** Runs `work` in its own write transaction; resolves once the commit is durable. */
  async write<T>(work: () => T): Promise<T> {
    return this.writeNow(work);
  }

  /**
   * `write`, committed before it returns: for a drain, which must commit a job's copy on one
   * database and then its removal from another without anything in this process running in
   * between. (Group commit must flush what it has pending before running this.)
   */
  writeNow<T>(work: () => T): T {
    const changesBefore = this.totalChanges();
    const result = refusalsRaisedBySql(this.file, () => this.inTransaction.immediate(work) as T);
    // Only once committed, and only when rows changed: a rolled-back write, or one that found
    // nothing to do (a claim on an empty queue), changed nothing a watcher could read.
    if (this.totalChanges() !== changesBefore) this.onCommit();
    return result;
  }

  /** Rows changed on this connection so far, triggers included. */
  private totalChanges(): number {
    return (this.statement('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}

/**
 * Refusals that come from SQLite rather than from the store's own checks, as UNAVAILABLE: both
 * pass with time, so a retry is the right answer.
 * - The schema's triggers refuse some writes with RAISE(ABORT, 'jobkeep: ...'): a write to a
 *   job a drain is moving (job-moves-schema.ts). The retry then learns where the job went.
 * - SQLITE_BUSY: another process held the file's write lock past the busy timeout.
 */
function refusalsRaisedBySql<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'SQLITE_CONSTRAINT_TRIGGER' && message?.startsWith(TRIGGER_REFUSAL)) throw unavailable(message.slice(TRIGGER_REFUSAL.length));
    if (code === 'SQLITE_BUSY') throw unavailable(`${file} is locked by another process; try again`);
    throw error;
  }
}

const TRIGGER_REFUSAL = 'jobkeep: ';
