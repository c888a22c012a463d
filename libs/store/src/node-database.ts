import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';

/**
 * One open SQLite file and the only way to change it. Every write goes through `write`, so that
 * group commit (several waiting writes sharing one transaction and one fsync) changes this
 * class alone; reads go through `read` and see one consistent snapshot.
 */
export class NodeDatabase {
  private readonly statements = new Map<string, Statement>();
  private readonly runInTransaction: { immediate: (work: () => unknown) => unknown; deferred: (work: () => unknown) => unknown };

  constructor(
    readonly db: SqliteDatabase,
    readonly file: string,
    /** Told after every commit of `write`, so that watches read the history again. */
    private readonly onCommit: () => void = () => {},
  ) {
    this.runInTransaction = db.transaction((work: () => unknown) => work());
  }

  /** Runs `work` in its own write transaction; resolves once the commit is durable. */
  async write<T>(work: () => T): Promise<T> {
    const result = this.runInTransaction.immediate(work) as T;
    // Only once committed: a rolled-back write changed nothing a watcher could read.
    this.onCommit();
    return result;
  }

  /** Runs `work` in a read transaction, so that several statements see the same snapshot. */
  read<T>(work: () => T): T {
    return this.runInTransaction.deferred(work) as T;
  }

  /** A prepared statement, compiled once per connection. */
  statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
