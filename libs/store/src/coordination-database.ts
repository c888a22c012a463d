import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';

/**
 * coordination.db and the only way to change its leases and locks. Unlike NodeDatabase its
 * writes are synchronous: a lock decision (who holds, which token) must be made and committed
 * without yielding the event loop, so that nothing else in this process can interleave with it.
 */
export class CoordinationDatabase {
  private readonly statements = new Map<string, Statement>();
  private readonly runInTransaction: { immediate: (work: () => unknown) => unknown; deferred: (work: () => unknown) => unknown };

  constructor(readonly db: SqliteDatabase) {
    this.runInTransaction = db.transaction((work: () => unknown) => work());
  }

  /** Runs `work` in its own write transaction, or inside the caller's when one is open. */
  write<T>(work: () => T): T {
    // better-sqlite3 turns a nested transaction into a savepoint, so callers may compose writes.
    return this.runInTransaction.immediate(work) as T;
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
}
