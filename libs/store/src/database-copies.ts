import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { alreadyExists, failedPrecondition, notFound } from '@jobkeep/errors';
import { notADatabase, openReadOnly } from './database-tables.js';
import type { SqliteDatabase } from './sqlite-connection.js';

/** Sizes of a copy and of what it was copied from. */
export interface CopyOutcome {
  /** The source file plus its write-ahead log. */
  sourceBytes: number;
  copyBytes: number;
}

/** Pages per backup step: every page at once (SQLite's maximum step is any large count). */
const EVERY_PAGE = 0x7fffffff;

/**
 * Writes a compacted copy of `file` to `dest` (bbolt's `compact`): VACUUM INTO rebuilds every
 * b-tree from one read snapshot, leaving out free pages and half-empty ones, so the copy is
 * consistent even while a server writes the source.
 */
export function compactDatabase(file: string, dest: string): CopyOutcome {
  const copy = startCopy(file, dest);
  try {
    copy.source.prepare('VACUUM INTO ?').run(copy.temp);
    return copy.publish();
  } catch (error) {
    throw copy.failed(error);
  } finally {
    copy.source.close();
  }
}

/**
 * Copies `file` page by page to `dest` while other connections, in this process or another,
 * keep writing it. SQLite's backup restarts whenever the source changes between two steps, so
 * under constant writes a copy in small steps may never end; here, after the step that sizes
 * the copy, one step copies every page inside one read transaction, which a writer cannot
 * disturb (WAL gives the reader its snapshot). It ends after at most one restart.
 */
export async function backupDatabase(file: string, dest: string): Promise<CopyOutcome> {
  const copy = startCopy(file, dest);
  try {
    await copy.source.backup(copy.temp, { progress: () => EVERY_PAGE });
    return copy.publish();
  } catch (error) {
    throw copy.failed(error);
  } finally {
    copy.source.close();
  }
}

/** A copy under way: made under a temporary name beside `dest`, then published as `dest`. */
function startCopy(file: string, dest: string) {
  checkDestination(dest);
  const source = openReadOnly(file);
  const sourceBytes = sizeWithWal(file);
  const temp = temporaryName(dest);
  return {
    source,
    temp,
    publish: (): CopyOutcome => ({ sourceBytes, copyBytes: publish(file, temp, dest) }),
    failed(error: unknown): unknown {
      removeCopy(temp);
      return notADatabase(file, error);
    },
  };
}

/** `A -> B bytes (gain=X.XXx)`, gain being how many times smaller the copy is. */
export function formatGain(outcome: CopyOutcome): string {
  const gain = outcome.copyBytes === 0 ? 0 : outcome.sourceBytes / outcome.copyBytes;
  return `${outcome.sourceBytes} -> ${outcome.copyBytes} bytes (gain=${gain.toFixed(2)}x)`;
}

function checkDestination(dest: string): void {
  // Checked first, so that no work is done for a copy that could not be kept; the final
  // link() checks again, for a file that appears meanwhile.
  if (fs.existsSync(dest)) throw alreadyExists(`${dest} already exists; a copy never overwrites a file`);
  if (!fs.existsSync(path.dirname(path.resolve(dest)))) throw notFound(`the directory of ${dest} does not exist`);
}

/**
 * Makes the copy written to `temp` a standalone WAL-mode file like every jobkeep database,
 * checks it, makes it durable, and only then gives it `dest`'s name, so that a crash at any
 * point never leaves a partial file under that name. Returns the copy's size.
 */
function publish(source: string, temp: string, dest: string): number {
  try {
    finishCopy(source, temp);
    // link() fails when dest exists, where rename() would replace it.
    fs.linkSync(temp, dest);
  } catch (error) {
    removeCopy(temp);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`${dest} already exists; a copy never overwrites a file`);
    throw error;
  }
  fs.unlinkSync(temp);
  syncDirectory(path.dirname(path.resolve(dest)));
  return fs.statSync(dest).size;
}

function finishCopy(source: string, temp: string): void {
  const copy = new Database(temp, { fileMustExist: true });
  try {
    // VACUUM INTO writes a rollback-journal file; jobkeep opens every file in WAL mode, and
    // the mode is kept in the file's header. Closing the only connection checkpoints and
    // removes the -wal, so the copy stands alone.
    copy.pragma('journal_mode = WAL');
    checkCopy(source, copy);
  } finally {
    copy.close();
  }
  const handle = fs.openSync(temp, 'r+');
  try {
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
}

/** How many of quick_check's findings an error quotes; the rest are for `check`. */
const QUOTED_FINDINGS = 3;

/**
 * Neither VACUUM INTO nor the backup API checks what it copies: from a source with a damaged
 * page they may write, and report success for, a copy that is damaged too (the backup copies
 * the damaged pages; VACUUM INTO copies rows in whatever order, and however often, a damaged
 * b-tree yields them). quick_check reads every page of the copy, leaving out only
 * integrity_check's slower cross-check of each index entry against its row; a copy that fails
 * it is never published.
 */
function checkCopy(source: string, copy: SqliteDatabase): void {
  const findings = (copy.pragma(`quick_check(${QUOTED_FINDINGS})`) as { quick_check: string }[]).map((row) => row.quick_check);
  if (findings.length === 1 && findings[0] === 'ok') return;
  const quoted = findings.join('; ').replaceAll(/\s+/g, ' ').trim();
  throw failedPrecondition(`the copy of ${source} fails quick_check (${quoted}): the source is damaged; run check on it`);
}

function temporaryName(dest: string): string {
  return path.join(path.dirname(path.resolve(dest)), `.${path.basename(dest)}.${randomBytes(6).toString('hex')}.partial`);
}

function removeCopy(temp: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(`${temp}${suffix}`, { force: true });
}

/** The source as it stands: the file and the log of changes not yet checkpointed into it. */
function sizeWithWal(file: string): number {
  let walBytes = 0;
  try {
    walBytes = fs.statSync(`${file}-wal`).size;
  } catch {
    // No log: the last connection to close checkpointed it into the file and removed it.
  }
  return fs.statSync(file).size + walBytes;
}

/** The new name is durable only once the directory holding it is. */
function syncDirectory(dir: string): void {
  const handle = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
}
