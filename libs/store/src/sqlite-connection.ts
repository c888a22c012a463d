import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface ConnectionOptions {
  /** How long a writer waits for another process's lock before failing, in milliseconds. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating when asked) a SQLite file with the pragmas every jobkeep database relies on:
 * WAL so that readers never block the writer, synchronous=FULL so that a write is durable
 * before it is acknowledged, and foreign keys so that cascades keep files consistent.
 */
export function openSqlite(file: string, create: boolean, options: ConnectionOptions = {}): SqliteDatabase {
  if (create) fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { fileMustExist: !create });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
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
