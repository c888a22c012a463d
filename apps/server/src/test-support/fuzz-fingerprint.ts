import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

interface Watched {
  inode: number;
  db: Database.Database;
}

/**
 * Tells whether any database of a live server's data directory changed between two moments,
 * cheaply enough to ask around every call: each file is watched through a read-only connection
 * of its own, whose `PRAGMA data_version` moves when another connection commits to the file. A
 * database that appears, disappears or is replaced by another file counts as a change too.
 */
export class DataDirFingerprint {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly dataDir: string) {}

  /** The state of every database now; equal strings mean nothing was committed in between. */
  take(): string {
    const names = fs.readdirSync(this.dataDir).filter((name) => name.endsWith('.db')).sort();
    for (const [name, entry] of this.watched) {
      if (!names.includes(name)) {
        entry.db.close();
        this.watched.delete(name);
      }
    }
    return names.map((name) => `${name}@${this.version(name)}`).join(' ');
  }

  close(): void {
    for (const entry of this.watched.values()) entry.db.close();
    this.watched.clear();
  }

  private version(name: string): string {
    const file = path.join(this.dataDir, name);
    const inode = fs.statSync(file, { throwIfNoEntry: false })?.ino;
    if (inode === undefined) return 'gone';
    let entry = this.watched.get(name);
    if (entry?.inode !== inode) {
      entry?.db.close();
      entry = { inode, db: new Database(file, { readonly: true, fileMustExist: true }) };
      this.watched.set(name, entry);
    }
    return `${inode}:${String(entry.db.pragma('data_version', { simple: true }))}`;
  }
}
