import { JobkeepError, failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { Page } from './job-store.js';
import { checkLeaseId } from './lease-validation.js';
import { checkLockName, checkLockPrefix } from './lock-names.js';
import { LOCK_LIMITS, type Acquired, type AcquireInput, type Lock, type LockQuery, type LockStore } from './lock-store.js';
import { forceReleaseInTx, listLocksInTx, lockFromRow, releaseInTx, selectLockInTx, tryAcquireInTx, type LockRow } from './lock-writes.js';
import { requireLiveLeaseInTx } from './lease-writes.js';
import { checkPageSize, decodePageToken, encodePageToken, queryFingerprint } from './page-token.js';
import type { StoreLimits } from './store-limits.js';
import { TurnAdmission } from './turn-admission.js';

/**
 * Acquire and Release calls decided in one turn of the event loop at most; the rest wait for
 * the turns after (TurnAdmission). As many as the node databases commit whole in one turn.
 */
const LOCK_CALLS_PER_TURN = 16;

/** One Acquire call waiting in a lock's line. */
interface Waiter {
  readonly leaseId: number;
  readonly lockDelayMs: number;
  grant(acquired: Acquired): void;
  fail(error: unknown): void;
}

/** Told when a lease ended (revoked or expired), with the locks its end released. */
export interface LeaseEndListener {
  leaseEnded(leaseId: number, releasedLocks: readonly string[]): void;
}

/**
 * Every lock change goes through here, so that handing a lock to the next waiter happens in one
 * place. The holdings live in coordination.db; the lines of waiters live in this process only,
 * because a waiter is a live call: when the server stops, its calls end, and so do their places
 * in line. Each release serves only the head of the line (no thundering herd), first in first out.
 */
export class LockManager implements LockStore, LeaseEndListener {
  private readonly lines = new Map<string, Waiter[]>();
  /** Locks under a lock delay that have waiters: served when the delay passes. */
  private readonly delayTimers = new Map<string, NodeJS.Timeout>();
  private readonly turns = new TurnAdmission(LOCK_CALLS_PER_TURN);
  private closed = false;

  constructor(
    private readonly db: CoordinationDatabase,
    private readonly limits: Pick<StoreLimits, 'maxLockWaiters'>,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(input: AcquireInput): Promise<Acquired> {
    const name = checkLockName(input.name);
    const leaseId = checkLeaseId(input.leaseId);
    const lockDelayMs = checkMilliseconds('lock_delay_ms', input.lockDelayMs, LOCK_LIMITS.maxLockDelayMs);
    const waitTimeoutMs = checkMilliseconds('wait_timeout_ms', input.waitTimeoutMs, LOCK_LIMITS.maxWaitTimeoutMs);
    await this.turns.admit();
    if (this.closed) throw unavailable('the lock manager is closed: the server is shutting down');
    input.signal?.throwIfAborted();
    const line = this.lines.get(name) ?? [];
    let attempt;
    try {
      attempt = this.db.decide(() => {
        if (line.length === 0) return tryAcquireInTx(this.db, name, leaseId, lockDelayMs, this.now());
        // Others are in line: nobody overtakes them, except the holder asking again (idempotent).
        requireLiveLeaseInTx(this.db, leaseId, this.now());
        const row = selectLockInTx(this.db, name);
        return row?.holder_lease_id === leaseId ? { outcome: 'granted' as const, row, reacquired: true } : { outcome: 'queued' as const, row };
      });
    } catch (error) {
      await this.db.committed().catch(() => {});
      throw error;
    }
    // A waiter joins the line in the turn that found the lock taken, so that no release can
    // slip in between unseen; it hears nothing before its own grant has committed.
    if (attempt.outcome !== 'granted' && input.wait === true && this.hasRoomInLine(name)) {
      if (attempt.outcome === 'delayed') this.serveAt(name, attempt.until);
      return this.enqueue(name, leaseId, lockDelayMs, waitTimeoutMs, input.signal);
    }
    // Every other answer waits until what it saw is durable.
    await this.db.committed();
    if (attempt.outcome === 'granted') return this.acquired(attempt.row);
    if (input.wait !== true) throw failedPrecondition(this.unavailableReason(name, attempt.row));
    throw this.lineFull(name);
  }

  async release(name: string, leaseId: number, fencingToken: number): Promise<void> {
    checkLockName(name);
    checkLeaseId(leaseId);
    await this.turns.admit();
    // The next waiter is served in the same turn, so its grant shares the release's commit.
    await this.db.write(() => releaseInTx(this.db, name, leaseId, fencingToken), () => this.serve(name));
  }

  async forceRelease(name: string): Promise<void> {
    checkLockName(name);
    await this.db.write(() => forceReleaseInTx(this.db, name), () => this.serve(name));
  }

  async get(name: string): Promise<Lock> {
    checkLockName(name);
    const row = await this.db.readCommitted(() => selectLockInTx(this.db, name));
    if (row === undefined) throw notFound(`lock ${name} does not exist: it was never acquired`);
    return this.view(row);
  }

  async list(query: LockQuery): Promise<Page<Lock>> {
    const prefix = checkLockPrefix(query.prefix);
    const pageSize = checkPageSize(query.pageSize);
    const fingerprint = queryFingerprint({ locks: prefix });
    const after = decodePageToken(query.pageToken, fingerprint)?.after[1] ?? '';
    const rows = await this.db.readCommitted(() => listLocksInTx(this.db, prefix, after, pageSize + 1));
    const items = rows.slice(0, pageSize).map((row) => this.view(row));
    const last = items.at(-1);
    const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken({ after: [0, last.name] }, fingerprint) : '';
    return { items, nextPageToken };
  }

  /** A lease ended: its waiters leave every line, and each lock it held goes to its next waiter. */
  leaseEnded(leaseId: number, releasedLocks: readonly string[]): void {
    const touched = new Set(releasedLocks);
    for (const [name, line] of this.lines) {
      for (const waiter of line.filter((candidate) => candidate.leaseId === leaseId)) {
        this.leave(name, waiter);
        waiter.fail(notFound(`lease ${leaseId} ended while waiting for lock ${name}`));
        touched.add(name);
      }
    }
    for (const name of touched) this.serve(name);
  }

  /** Ends every wait with UNAVAILABLE and stops the timers; for shutdown. */
  close(): void {
    this.closed = true;
    for (const timer of this.delayTimers.values()) clearTimeout(timer);
    this.delayTimers.clear();
    const lines = [...this.lines.values()];
    this.lines.clear();
    for (const waiter of lines.flat()) waiter.fail(unavailable('the server is shutting down; acquire again from another attempt'));
  }

  private enqueue(name: string, leaseId: number, lockDelayMs: number, waitTimeoutMs: number, signal: AbortSignal | undefined): Promise<Acquired> {
    return new Promise<Acquired>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        leaseId,
        lockDelayMs,
        // Settled at once, so that no timeout or cancel can undo a decided grant; answered only
        // once the turn's decisions are durable, as every answer is.
        grant: (acquired) => {
          settle();
          this.db.committed().then(() => resolve(acquired), reject);
        },
        fail: (error) => {
          settle();
          this.db.committed().then(
            () => reject(error),
            () => reject(error),
          );
        },
      };
      const giveUp = (error: unknown) => {
        this.leave(name, waiter);
        waiter.fail(error);
      };
      const onAbort = () => giveUp(abortReason(signal!, name));
      if (waitTimeoutMs > 0) {
        timer = setTimeout(
          () => giveUp(new JobkeepError('DEADLINE_EXCEEDED', `lock ${name} was not granted to lease ${leaseId} within ${waitTimeoutMs} ms`)),
          waitTimeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const line = this.lines.get(name) ?? [];
      line.push(waiter);
      this.lines.set(name, line);
    });
  }

  /**
   * Each waiter is a live call holding memory until it is served: one lock's line is bounded so
   * that a crowd of waiters (or a client looping on Acquire) cannot grow it without end.
   */
  private hasRoomInLine(name: string): boolean {
    return (this.lines.get(name)?.length ?? 0) < this.limits.maxLockWaiters;
  }

  private lineFull(name: string): JobkeepError {
    const waiting = this.lines.get(name)?.length ?? 0;
    return resourceExhausted(
      `lock ${name} already has ${waiting} waiters in line, the most one lock may have (the server's --max-lock-waiters); try again later`,
    );
  }

  /** Takes a waiter out of line; if it was first, the next one may be servable now. */
  private leave(name: string, waiter: Waiter): void {
    const line = this.lines.get(name);
    const index = line?.indexOf(waiter) ?? -1;
    if (line === undefined || index < 0) return;
    line.splice(index, 1);
    if (line.length === 0) this.lines.delete(name);
    else if (index === 0) this.serve(name);
  }

  /** Grants the lock to the head of its line if it is free; a head whose lease is gone is dropped. */
  private serve(name: string): void {
    const line = this.lines.get(name);
    while (line !== undefined && line.length > 0) {
      const head = line[0]!;
      let attempt;
      try {
        attempt = this.db.decide(() => tryAcquireInTx(this.db, name, head.leaseId, head.lockDelayMs, this.now()));
      } catch (error) {
        line.shift();
        // The waiter's own fault (its lease is gone) is its answer; anything else (the file busy
        // with another process, a disk error) is the server's, and the caller may try again.
        head.fail(error instanceof JobkeepError ? error : unavailable(`lock ${name} could not be granted: ${(error as Error).message}`));
        continue;
      }
      if (attempt.outcome === 'held') break;
      if (attempt.outcome === 'delayed') {
        this.serveAt(name, attempt.until);
        break;
      }
      line.shift();
      head.grant(this.acquired(attempt.row));
    }
    if (line !== undefined && line.length === 0) this.lines.delete(name);
  }

  private serveAt(name: string, until: number): void {
    clearTimeout(this.delayTimers.get(name));
    // One millisecond late, so that `available_time > now` is certainly false when it fires.
    const timer = setTimeout(() => {
      this.delayTimers.delete(name);
      this.serve(name);
    }, Math.max(0, until - this.now()) + 1);
    this.delayTimers.set(name, timer.unref());
  }

  private acquired(row: LockRow): Acquired {
    return { lock: this.view(row), fencingToken: row.fencing_token };
  }

  private view(row: LockRow): Lock {
    return lockFromRow(
      row,
      (this.lines.get(row.name) ?? []).map((waiter) => waiter.leaseId),
      this.now(),
    );
  }

  private unavailableReason(name: string, row: LockRow | undefined): string {
    const waiting = this.lines.get(name)?.length ?? 0;
    const line = waiting > 0 ? ` (${waiting} waiting)` : '';
    if (row?.holder_lease_id != null) return `lock ${name} is held by lease ${row.holder_lease_id} with token ${row.fencing_token}${line}`;
    if (row !== undefined && row.available_time > this.now()) {
      return `lock ${name} is in its lock delay until ${new Date(row.available_time).toISOString()}: its last holder's lease expired${line}`;
    }
    return `lock ${name} has others waiting for it${line}`;
  }
}

function checkMilliseconds(field: string, value: number | undefined, max: number): number {
  const ms = value ?? 0;
  if (!Number.isInteger(ms) || ms < 0 || ms > max) throw invalidArgument(`${field} must be between 0 and ${max}, not ${ms}`);
  return ms;
}

/** A JobkeepError reason (the call's deadline, a cancelled call) is kept; any other becomes CANCELLED. */
function abortReason(signal: AbortSignal, name: string): unknown {
  return signal.reason instanceof JobkeepError ? signal.reason : new JobkeepError('CANCELLED', `the wait for lock ${name} was cancelled`);
}
