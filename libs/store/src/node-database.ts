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
    const result = this.inTransaction.immediate(work) as T;
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
