import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './sqlite-connection.js';

/**
 * What every open jobkeep database offers besides its write path: read transactions, prepared
 * statements compiled once per connection, and closing. The write path is the subclass's, since
 * node databases and coordination.db commit differently (see NodeDatabase, CoordinationDatabase).
 */
export class SqliteHandle {
  private readonly statements = new Map<string, Statement>();
  protected readonly inTransaction: { immediate: (work: () => unknown) => unknown; deferred: (work: () => unknown) => unknown };

  constructor(readonly db: SqliteDatabase) {
    // better-sqlite3 turns a nested call into a savepoint, so transaction bodies may compose.
    this.inTransaction = db.transaction((work: () => unknown) => work());
  }

  /** Runs `work` in a read transaction, so that several statements see the same snapshot. */
  read<T>(work: () => T): T {
    return this.inTransaction.deferred(work) as T;
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
