import { unavailable } from '@jobkeep/errors';
import { GROUP_COMMIT_DEFAULTS, WriteQueue, type GroupCommitSettings } from './group-commit.js';
import type { SqliteDatabase } from './sqlite-connection.js';
import { SqliteHandle } from './sqlite-handle.js';
import { refusalsRaisedBySql } from './sqlite-refusals.js';

export interface NodeDatabaseOptions {
  /** Told after every commit that changed rows, so that watches read the history again. */
  onCommit?: () => void;
  /**
   * Throws FAILED_PRECONDITION once the database is draining or retired. Creates call it
   * after looking up their request id, so that a retried create still gets its first answer.
   */
  admitNewRecords?: () => void;
  groupCommit?: GroupCommitSettings;
  /** Told after each batch commits: how many writes shared it, and how long its transaction took. */
  onBatchCommitted?: (writes: number, seconds: number) => void;
  /**
   * Run inside each transaction just before its COMMIT: commits coordination.db's open
   * transaction (CoordinationDatabase.commitPending), so that a write never becomes durable
   * before the leases and locks it checked. If it throws, the whole transaction fails.
   */
  beforeCommit?: () => void;
}

/** A write waiting for its batch, and how to tell its caller the outcome. */
interface PendingWrite {
  work: () => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** One write's outcome in a batch's transaction, and whether it changed rows. */
interface Attempt {
  outcome: Outcome;
  changed: boolean;
}

/** The outcomes of a batch's writes, in order, once their transaction has committed. */
interface BatchRun {
  outcomes: Outcome[];
  changed: boolean;
}

/** Thrown out of a batch's transaction to roll it back, when a write failed after changing rows. */
class UndoNeeded extends Error {}

/**
 * One open SQLite file and the only way to change it. Writes are group-committed: the writes
 * that arrive while the event loop runs one turn (or up to the batch's bounds) share one
 * transaction and one fsync, and a write that fails is undone alone (see runBatch). Reads go
 * through `read` and see one consistent snapshot of what is committed.
 */
export class NodeDatabase extends SqliteHandle {
  readonly admitNewRecords: () => void;
  private readonly onCommit: () => void;
  private readonly onBatchCommitted: (writes: number, seconds: number) => void;
  private readonly beforeCommit: () => void;
  private readonly queue: WriteQueue<PendingWrite>;

  constructor(
    db: SqliteDatabase,
    readonly file: string,
    options: NodeDatabaseOptions = {},
  ) {
    super(db);
    this.onCommit = options.onCommit ?? (() => {});
    this.admitNewRecords = options.admitNewRecords ?? (() => {});
    this.onBatchCommitted = options.onBatchCommitted ?? (() => {});
    this.beforeCommit = options.beforeCommit ?? (() => {});
    this.queue = new WriteQueue(options.groupCommit ?? GROUP_COMMIT_DEFAULTS, (batch) => this.commitBatch(batch));
  }

  /**
   * Runs `work` in a write transaction, with whatever other writes its batch holds; resolves
   * with its result once that transaction has committed (durably, as the connection's
   * durability says), rejects with its own error, or with the batch's if the commit fails.
   * `records`: how many records the write makes, which bounds the batches (group-commit.ts).
   * `work` may run twice, the first run rolled back (see runBatch): it must change nothing but
   * this database, and return what it did rather than record it elsewhere.
   */
  write<T>(work: () => T, records = 1): Promise<T> {
    // A caller that kept a handle the pool has since closed: a retry gets the file reopened.
    if (!this.db.open) return Promise.reject(unavailable(`${this.file} was closed while the write was on its way; try again`));
    return new Promise<T>((resolve, reject) => this.queue.add({ work, resolve: resolve as (value: unknown) => void, reject }, records));
  }

  /**
   * `write`, committed before it returns, after every write still pending: for a drain, which
   * must commit a job's copy on one database and then its removal from another without anything
   * in this process running in between.
   */
  writeNow<T>(work: () => T): T {
    this.queue.flush();
    const changesBefore = this.totalChanges();
    const result = refusalsRaisedBySql(this.file, () =>
      this.inTransaction.immediate(() => {
        const value = work();
        this.beforeCommit();
        return value;
      }) as T,
    );
    // Only once committed, and only when rows changed: a rolled-back write, or one that found
    // nothing to do (a claim on an empty queue), changed nothing a watcher could read.
    if (this.totalChanges() !== changesBefore) this.onCommit();
    return result;
  }

  /** Commits the writes still pending first: closing (an LRU eviction, a shutdown) loses none. */
  override close(): void {
    if (this.db.open) this.queue.flush();
    super.close();
  }

  /**
   * One transaction for the batch; the callers hear of their outcome only after its COMMIT
   * returned, and if the transaction as a whole fails (BEGIN, COMMIT, or an error after which
   * SQLite has rolled everything back), every write of the batch fails with it.
   */
  private commitBatch(batch: PendingWrite[]): void {
    let run: BatchRun;
    const started = process.hrtime.bigint();
    try {
      try {
        run = this.runBatch(batch, false);
      } catch (error) {
        if (!(error instanceof UndoNeeded)) throw error;
        // A write failed after changing rows: only a savepoint of its own can undo it alone.
        run = this.runBatch(batch, true);
      }
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Committed: every caller hears first, so that an observer that throws can strand nobody.
    batch.forEach((write, i) => {
      const outcome = run.outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
    if (run.changed) this.onCommit();
    try {
      this.onBatchCommitted(batch.length, seconds);
    } catch {
      // Metrics only: a failing observer must not stop the queue's next batch.
    }
  }

  /**
   * Runs the batch's writes in one transaction and commits it. Without `savepoints`, the writes
   * run bare: with a savepoint open, a statement that fires triggers (the jobs table's count and
   * drain triggers) costs about twice as much, and a create at 64 in flight 10-15% more CPU
   * (tools/bench/RESULTS.md). Most failures change nothing (a check refuses the write before it
   * writes), so nothing needs undoing; a write that fails after changing rows throws
   * UndoNeeded, and the batch runs again with `savepoints`, each write in its own.
   */
  private runBatch(batch: PendingWrite[], savepoints: boolean): BatchRun {
    return refusalsRaisedBySql(this.file, () =>
      this.inTransaction.immediate(() => {
        let changed = false;
        const outcomes = batch.map((write) => {
          const attempt = savepoints ? this.attemptInSavepoint(write.work) : this.attempt(write.work, batch.length === 1);
          changed ||= attempt.changed;
          return attempt.outcome;
        });
        this.beforeCommit();
        return { outcomes, changed };
      }),
    ) as BatchRun;
  }

  /**
   * One write of a batch, run bare. A failure that changed no row leaves the transaction as it
   * found it (SQLite undoes a failed statement itself). One that did fails the transaction: alone
   * in its batch with its own error, otherwise with UndoNeeded.
   */
  private attempt(work: () => unknown, alone: boolean): Attempt {
    const changesBefore = this.totalChanges();
    try {
      const value = refusalsRaisedBySql(this.file, work);
      return { outcome: { ok: true, value }, changed: this.totalChanges() !== changesBefore };
    } catch (error) {
      if (!this.db.inTransaction || alone) throw error;
      if (this.totalChanges() !== changesBefore) throw new UndoNeeded();
      return { outcome: { ok: false, error }, changed: false };
    }
  }

  /** One write of a batch, in a savepoint (the nested transaction): if it throws, only it is undone. */
  private attemptInSavepoint(work: () => unknown): Attempt {
    const changesBefore = this.totalChanges();
    try {
      const value = refusalsRaisedBySql(this.file, () => this.inTransaction.immediate(work));
      return { outcome: { ok: true, value }, changed: this.totalChanges() !== changesBefore };
    } catch (error) {
      // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back:
      // the writes before this one are gone, and those after would run outside any transaction.
      if (!this.db.inTransaction) throw error;
      return { outcome: { ok: false, error }, changed: false };
    }
  }

  /** Rows changed on this connection so far, triggers included. */
  private totalChanges(): number {
    return (this.statement('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}
