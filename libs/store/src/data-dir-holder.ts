import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { failedPrecondition } from '@jobkeep/errors';

/** Who holds a data directory: the one process allowed to write its databases. */
export interface DataDirHolder {
  pid: number;
  role: 'server' | 'admin';
  /** Where a server holder listens; empty until it does, and for an admin holder. */
  address: string;
  /** When the hold was taken, in milliseconds. */
  since: number;
}

export interface HeldDataDir {
  /** Records where the holding server listens, for the message others get. */
  setAddress(address: string): void;
  release(): void;
}

const LOCK_FILE = 'jobkeep.lock';
const HOLDER_FILE = 'jobkeep.lock.json';

/**
 * Makes this process the only writer of `dataDir`, until `release` or the process's end. The
 * hold is a write lock on an empty SQLite file, kept by a transaction that never ends: the
 * kernel drops it when the process dies, even by SIGKILL, so a crash never leaves a stale hold
 * behind (a PID file would, and a reused PID would fool it). No npm lock library gives that:
 * they time out stale locks by age instead. Who holds is written beside it for the message
 * the next process gets. Throws FAILED_PRECONDITION when another live process holds it.
 */
export function holdDataDir(dataDir: string, holder: { role: DataDirHolder['role']; address?: string }): HeldDataDir {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = new Database(path.join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    lock.exec('BEGIN IMMEDIATE');
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw heldBy(dataDir, readHolderFile(dataDir));
    throw error;
  }
  const record: DataDirHolder = { pid: process.pid, role: holder.role, address: holder.address ?? '', since: Date.now() };
  writeHolderFile(dataDir, record);
  let released = false;
  return {
    setAddress(address) {
      record.address = address;
      writeHolderFile(dataDir, record);
    },
    release() {
      if (released) return;
      released = true;
      fs.rmSync(path.join(dataDir, HOLDER_FILE), { force: true });
      lock.close(); // ends the transaction, and the hold with it
    },
  };
}

/** The live holder of `dataDir`, or undefined when no process holds it. Changes nothing. */
export function readDataDirHolder(dataDir: string): DataDirHolder | undefined {
  const file = path.join(dataDir, LOCK_FILE);
  if (!fs.existsSync(file)) return undefined;
  const probe = new Database(file, { timeout: 0 });
  try {
    probe.exec('BEGIN IMMEDIATE');
    probe.exec('ROLLBACK');
    return undefined;
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    return readHolderFile(dataDir) ?? { pid: 0, role: 'server', address: '', since: 0 };
  } finally {
    probe.close();
  }
}

function heldBy(dataDir: string, holder: DataDirHolder | undefined) {
  const who =
    holder === undefined
      ? 'another process that is just starting'
      : holder.role === 'server'
        ? `a live jobkeep server (pid ${holder.pid}${holder.address === '' ? '' : `, listening on ${holder.address}`})`
        : `another jobkeep-admin command (pid ${holder.pid})`;
  const hint = holder?.role === 'server' && holder.address !== '' ? `; run the command with --server ${holder.address} instead, or stop the server first` : '';
  return failedPrecondition(`the data directory ${path.resolve(dataDir)} is held by ${who}, which alone may write its databases${hint}`);
}

// Replaced whole (write then rename), so that a reader never sees half a record.
function writeHolderFile(dataDir: string, record: DataDirHolder): void {
  const file = path.join(dataDir, HOLDER_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
  fs.renameSync(`${file}.tmp`, file);
}

function readHolderFile(dataDir: string): DataDirHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8')) as DataDirHolder;
  } catch {
    return undefined; // not written yet by a holder that is starting, or removed as it released
  }
}
