import fs from 'node:fs';
import path from 'node:path';
import { notFound } from '@jobkeep/errors';
import { LRUCache } from 'lru-cache';
import type { Catalogue } from './catalogue.js';
import type { DatabaseLocations, NodeDatabaseKind } from './database-locations.js';
import { migrate, type Migrations } from './migrations.js';
import { CommitNotifier } from './commit-notifier.js';
import type { GroupCommitSettings } from './group-commit.js';
import { NodeDatabase } from './node-database.js';
import { openSqlite, type ConnectionOptions } from './sqlite-connection.js';
import { readStateCounters } from './state-counters.js';

/** An open node database's records by state, as its counters hold them. */
export interface OpenDatabaseCounts {
  kind: NodeDatabaseKind;
  nodeId: string;
  counts: Record<string, number>;
}

/** One group commit: how many writes shared the transaction, and how long it took. */
export interface CommittedBatch {
  kind: NodeDatabaseKind | 'coordination';
  writes: number;
  seconds: number;
}

/** What the pool reports each time it opens a node database. */
export interface DatabaseOpenedInfo {
  kind: NodeDatabaseKind;
  nodeId: string;
  file: string;
  /** Records per state, from the counters kept with every change: no scan of the records. */
  counts: Record<string, number>;
}

export interface DatabasePoolOptions {
  locations: DatabaseLocations;
  catalogue: Catalogue;
  migrations: Record<NodeDatabaseKind, Migrations>;
  /** How many node databases may be open at once; the least recently used is closed past it. */
  maxOpen: number;
  now?: () => number;
  /** Called after every open of a node database (including reopens after LRU eviction). */
  onDatabaseOpened?: (info: DatabaseOpenedInfo) => void;
  /** How every node database is opened (its durability). */
  connection?: ConnectionOptions;
  groupCommit?: GroupCommitSettings;
  /** Told after each group commit of a node database: for metrics. */
  onBatchCommitted?: (batch: CommittedBatch) => void;
  /** See NodeDatabaseOptions.beforeCommit. */
  beforeCommit?: () => void;
}

/**
 * Open node databases, bounded by an LRU so that one server can serve thousands of nodes.
 * A handle is used synchronously between `get` and the moment its write is queued or its read
 * done, and closing an evicted one commits the writes it still has queued: so an eviction never
 * interrupts work in progress nor loses a write (one who keeps a handle across an await and
 * then writes on it gets UNAVAILABLE, and should `get` it again).
 */
export class DatabasePool {
  private readonly open: LRUCache<string, NodeDatabase>;
  /** Whose each open database is: file paths come from templates, so they cannot say. */
  private readonly owners = new WeakMap<NodeDatabase, { kind: NodeDatabaseKind; nodeId: string }>();
  private readonly now: () => number;
  /** Commits by kind and node, for watches; kept here so that it outlives evicted handles. */
  readonly commits = new CommitNotifier();
  readonly catalogue: Catalogue;

  constructor(private readonly options: DatabasePoolOptions) {
    this.now = options.now ?? Date.now;
    this.catalogue = options.catalogue;
    this.open = new LRUCache<string, NodeDatabase>({
      max: options.maxOpen,
      dispose: (database) => database.close(),
    });
  }

  /**
   * The node's database of the given kind. With `create` it is made (and catalogued) when
   * missing; without, a missing file is NOT_FOUND and nothing is created.
   */
  get(kind: NodeDatabaseKind, nodeId: string, create: boolean): NodeDatabase {
    const file = this.path(kind, nodeId);
    const key = `${kind}:${file}`;
    const cached = this.open.get(key);
    if (cached !== undefined) return cached;

    if (!fs.existsSync(file)) {
      if (!create) throw notFound(`node ${nodeId} has no ${kind} database`);
      createMigrated(file, this.options.migrations[kind], this.options.connection);
    }
    const db = openSqlite(file, false, this.options.connection);
    try {
      migrate(db, this.options.migrations[kind], file);
      // Also on every open, not only on creation: a crash between creating the file and
      // cataloguing it must not leave the file out of the catalogue for good.
      this.options.catalogue.record(nodeId, kind, file, this.now());
    } catch (error) {
      db.close();
      throw error;
    }
    const database = new NodeDatabase(db, file, {
      onCommit: () => this.commits.notify(kind, nodeId),
      admitNewRecords: () => this.catalogue.checkTakesNewRecords(nodeId, kind),
      groupCommit: this.options.groupCommit,
      onBatchCommitted: (writes, seconds) => this.options.onBatchCommitted?.({ kind, writes, seconds }),
      beforeCommit: this.options.beforeCommit,
    });
    this.open.set(key, database);
    this.owners.set(database, { kind, nodeId });
    this.options.onDatabaseOpened?.({ kind, nodeId, file, counts: readStateCounters(database, kind) });
    return database;
  }

  /**
   * Closes and deletes a node database and its catalogue entry: only for one that this process
   * has just created and that never held anything (an import that failed into a new file).
   */
  discardNew(kind: NodeDatabaseKind, nodeId: string): void {
    const file = this.path(kind, nodeId);
    this.open.delete(`${kind}:${file}`);
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
    this.catalogue.forget(nodeId, kind);
  }

  path(kind: NodeDatabaseKind, nodeId: string): string {
    return this.options.locations.nodeDatabasePath(kind, nodeId);
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Records by state of every open database, from the counters kept with each change: a few
   * rows per database, so a metrics scrape never scans records nor opens a closed file.
   */
  openDatabaseCounts(): OpenDatabaseCounts[] {
    return [...this.open.values()].map((database) => ({ ...this.owners.get(database)!, counts: database.read(() => readStateCounters(database, this.owners.get(database)!.kind)) }));
  }

  closeAll(): void {
    this.open.clear();
  }
}

/**
 * Makes a new node database under a temporary name, migrates it, and only then gives it its
 * name: a crash at any instant leaves either no file or a complete, migrated one, never an empty
 * file that `check` would report (a leftover temporary file is simply made again).
 */
function createMigrated(file: string, migrations: Migrations, connection: ConnectionOptions | undefined): void {
  const temp = `${file}.creating`;
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${temp}${suffix}`, { force: true });
  const db = openSqlite(temp, true, connection);
  try {
    migrate(db, migrations, file);
  } finally {
    db.close(); // the last connection's close moves the write-ahead log into the file and removes it
  }
  fs.renameSync(temp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir); // the rename itself survives a power loss
  } finally {
    fs.closeSync(dir);
  }
}
