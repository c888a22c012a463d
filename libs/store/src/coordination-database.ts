import { unavailable, type JobkeepError } from '@jobkeep/errors';
import { GROUP_COMMIT_DEFAULTS, scheduleCommit, type GroupCommitSettings, type ScheduledCommit } from './group-commit.js';
import type { SqliteDatabase } from './sqlite-connection.js';
import { SqliteHandle } from './sqlite-handle.js';
import { refusalBySql } from './sqlite-refusals.js';

/** The file's name in the errors its refusals carry. */
const FILE = 'coordination.db';

export interface CoordinationDatabaseOptions {
  groupCommit?: GroupCommitSettings;
  /** Told after each group commit: how many decisions shared it, and how long its COMMIT took. */
  onBatchCommitted?: (writes: number, seconds: number) => void;
}

/** The transaction the decisions of this turn share, and who waits for its COMMIT. */
interface OpenGroup {
  decisions: number;
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  scheduled: ScheduledCommit;
}

/**
 * coordination.db and the only way to change its leases, locks, registry and tokens.
 *
 * Its writes are group-committed differently from a node database's (NodeDatabase). A lock
 * decision (who holds, which fencing token) must be taken at once, without yielding the event
 * loop, so that nothing else in this process can interleave with it: `decide` runs its work
 * synchronously, in a transaction that stays open until the end of the event loop's turn (or the
 * group's bounds), and returns the outcome. The turn's decisions then share one COMMIT and one
 * fsync. Until that COMMIT, a decision is not durable, so no caller may be told of it:
 * `committed()` resolves once it is, and `write` does both. Node databases commit this file's
 * open transaction before their own (`commitPending`), so a node write never outlives the
 * coordination state it checked (a lease, a lock guard) in a crash.
 */
export class CoordinationDatabase extends SqliteHandle {
  private readonly settings: GroupCommitSettings;
  private readonly onBatchCommitted: (writes: number, seconds: number) => void;
  private group: OpenGroup | undefined;
  /** How deep `decide` calls are nested: the group may only commit at depth 0. */
  private depth = 0;

  constructor(db: SqliteDatabase, options: CoordinationDatabaseOptions = {}) {
    super(db);
    this.settings = options.groupCommit ?? GROUP_COMMIT_DEFAULTS;
    this.onBatchCommitted = options.onBatchCommitted ?? (() => {});
  }

  /**
   * Runs `work` now, in a savepoint of the turn's transaction, and returns its outcome: if it
   * throws, only it is undone. Nothing it changed is durable before `committed()` resolves.
   */
  decide<T>(work: () => T): T {
    const group = this.group ?? this.begin();
    this.depth++;
    try {
      return this.inTransaction.immediate(work) as T;
    } catch (error) {
      // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back:
      // the decisions before this one are gone with it.
      if (!this.db.inTransaction) this.abandon(group, unavailable(`coordination.db rolled back this turn's changes: ${(error as Error).message}; try again`));
      throw refusalBySql(FILE, error) ?? error;
    } finally {
      this.depth--;
      if (this.group === group && ++group.decisions >= this.settings.maxWrites && this.depth === 0) this.commitPending();
    }
  }

  /**
   * `decide`, answered once the decision is durable: resolves with the work's outcome, or
   * rejects with its error, only after the turn's COMMIT (a refusal may rest on state the same
   * turn changed); rejects with the COMMIT's error if that failed. `then` runs at once after a
   * decision that succeeded, in the same turn: what follows from it (a released lock's next
   * holder) is decided before anything else can run, and commits with it.
   */
  write<T>(work: () => T, then?: (value: T) => void): Promise<T> {
    return this.answeredWhenCommitted(() => {
      const value = this.decide(work);
      then?.(value);
      return value;
    });
  }

  /**
   * `read`, answered once what it saw is durable: it may have seen a decision of the open
   * transaction, which a failed COMMIT would undo. Its error, too, waits for the COMMIT.
   */
  readCommitted<T>(work: () => T): Promise<T> {
    return this.answeredWhenCommitted(() => this.read(work));
  }

  /** Commits what is pending, then `work` in a transaction of its own, before returning: for rare writes that need no batching. */
  writeNow<T>(work: () => T): T {
    if (this.depth > 0) return this.inTransaction.immediate(work) as T;
    this.commitPending();
    return this.inTransaction.immediate(work) as T;
  }

  /** Resolves once everything decided so far is committed; rejects if that COMMIT failed. */
  committed(): Promise<void> {
    return this.group?.done ?? COMMITTED;
  }

  /** Commits the open transaction now, if there is one; throws (and fails its waiters) if the COMMIT fails. */
  commitPending(): void {
    const group = this.group;
    if (group === undefined) return;
    group.scheduled.cancel();
    const started = process.hrtime.bigint();
    try {
      this.statement('COMMIT').run();
    } catch (error) {
      if (this.db.inTransaction) this.statement('ROLLBACK').run();
      throw this.abandon(group, refusalBySql(FILE, error) ?? unavailable(`coordination.db could not commit: ${(error as Error).message}; try again`));
    }
    this.group = undefined;
    group.resolve();
    try {
      this.onBatchCommitted(group.decisions, Number(process.hrtime.bigint() - started) / 1e9);
    } catch {
      // Metrics only: a failing observer must not fail a commit that is already durable.
    }
  }

  /** Commits what is pending first, so that closing (a shutdown) loses no decision. */
  override close(): void {
    if (this.db.open) this.commitPending();
    super.close();
  }

  /** Runs `run` now; its value, or its error, is told only once the turn's decisions are durable. */
  private async answeredWhenCommitted<T>(run: () => T): Promise<T> {
    let value: T;
    try {
      value = run();
    } catch (error) {
      await this.committed().catch(() => {});
      throw error;
    }
    await this.committed();
    return value;
  }

  private begin(): OpenGroup {
    try {
      this.statement('BEGIN IMMEDIATE').run();
    } catch (error) {
      // SQLITE_BUSY: another process held the file's write lock past the busy timeout.
      throw unavailable(`coordination.db could not start a transaction: ${(error as Error).message}; try again`);
    }
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((ok, fail) => ((resolve = ok), (reject = fail)));
    // A waiter that is never asked (a decision nobody awaits) must not become an unhandled rejection.
    done.catch(() => {});
    const group: OpenGroup = {
      decisions: 0,
      done,
      resolve,
      reject,
      scheduled: scheduleCommit(this.settings, () => this.commitScheduled()),
    };
    this.group = group;
    return group;
  }

  /** The scheduled COMMIT: its failure has already been handed to every waiter. */
  private commitScheduled(): void {
    try {
      this.commitPending();
    } catch {
      // Told to the waiters by abandon().
    }
  }

  /** The group's transaction is gone: every decision of it fails with `error`, which is returned. */
  private abandon(group: OpenGroup, error: JobkeepError): JobkeepError {
    if (this.group === group) {
      group.scheduled.cancel();
      this.group = undefined;
      group.reject(error);
    }
    return error;
  }
}

const COMMITTED = Promise.resolve();
