import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/**
 * What a commit survives before it is acknowledged. `full` (the default): power loss and an
 * operating-system crash, since every commit waits for its fsync. `power-loss-may-lose-writes`:
 * a crash of the server process, but the last commits may be lost if the machine loses power or
 * its kernel crashes before they reach the disk (the database itself stays consistent).
 */
export const DURABILITY_MODES = ['full', 'power-loss-may-lose-writes'] as const;
export type Durability = (typeof DURABILITY_MODES)[number];

/**
 * In WAL mode, FULL syncs the log at every commit; NORMAL syncs it only at checkpoints, so that
 * commits in the log since the last checkpoint are in the OS's cache, not yet on the disk.
 */
const SYNCHRONOUS: Record<Durability, 'FULL' | 'NORMAL'> = { full: 'FULL', 'power-loss-may-lose-writes': 'NORMAL' };

export interface ConnectionOptions {
  /** How long a writer waits for another process's lock before failing, in milliseconds. */
  busyTimeoutMs?: number;
  /** Default `full`. */
  durability?: Durability;
  /**
   * Told the SQL of every statement the connection runs: for the query-plan test, which checks
   * every statement a workload ran. Unset in service, where it would cost a call per statement.
   */
  onStatement?: (sql: string) => void;
}

/**
 * Opens (creating when asked) a SQLite file with the pragmas every jobkeep database relies on:
 * WAL so that readers never block the writer, synchronous=FULL (unless a relaxed durability is
 * asked for) so that a write is durable before it is acknowledged, and foreign keys so that
 * cascades keep files consistent.
 */
export function openSqlite(file: string, create: boolean, options: ConnectionOptions = {}): SqliteDatabase {
  if (create) fs.mkdirSync(path.dirname(file), { recursive: true });
  const { onStatement } = options;
  const db = new Database(file, { fileMustExist: !create, ...(onStatement === undefined ? {} : { verbose: (sql?: unknown) => onStatement(String(sql)) }) });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${SYNCHRONOUS[options.durability ?? 'full']}`);
    db.pragma('foreign_keys = ON');
    // Statement journals (one per insert that fires triggers) and sorts stay in memory, instead
    // of a temporary file per transaction: they are small, and never needed after a crash.
    db.pragma('temp_store = MEMORY');
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
