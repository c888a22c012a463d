export interface ReconcileQueueOptions {
  /** Jobs reconciled at once. */
  concurrency: number;
  /** Brings one job in line with its executions; rejects to be tried again later. */
  reconcile: (jobId: string) => Promise<void>;
  /** Told of a failed reconcile that will be tried again after `retryInMs`. */
  onError?: (jobId: string, error: unknown, retryInMs: number) => void;
  /** The first wait after a failure; it doubles with each failure in a row, up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Entry {
  /** Marked since its last reconcile started. */
  dirty: boolean;
  queued: boolean;
  running: boolean;
  /** Revisions of the history marked since the last reconcile started. */
  revisions: bigint[];
  /** Resolved when a reconcile that started after their mark has ended. */
  waiters: (() => void)[];
  failures: number;
  retry: NodeJS.Timeout | undefined;
}

/**
 * Jobs to reconcile, one reconcile at a time per job and a bounded number at once. Marks that
 * come while a job's reconcile runs are folded into one more reconcile after it, so a burst of
 * events costs one read of the job, not one per event. A failed reconcile is tried again with
 * backoff.
 *
 * Marks may carry the history revision that caused them. A revision stays pending until a
 * reconcile that started after it was marked has succeeded, so that `lowestPendingRevision`
 * says how far the history has been acted on: what the watch checkpoint may record.
 */
export class ReconcileQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly ready: string[] = [];
  private readonly pending = new Map<bigint, number>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: ReconcileQueueOptions) {}

  /** Asks for a reconcile of the job; resolves once one that started after this call has ended. */
  mark(jobId: string, revision?: bigint): Promise<void> {
    if (this.stopped) return Promise.resolve();
    let entry = this.entries.get(jobId);
    if (entry === undefined) {
      entry = { dirty: false, queued: false, running: false, revisions: [], waiters: [], failures: 0, retry: undefined };
      this.entries.set(jobId, entry);
    }
    if (revision !== undefined) {
      entry.revisions.push(revision);
      this.pending.set(revision, (this.pending.get(revision) ?? 0) + 1);
    }
    entry.dirty = true;
    const done = new Promise<void>((resolve) => entry.waiters.push(resolve));
    // A new reason to look at the job: no need to wait out the backoff of an earlier failure.
    if (entry.retry !== undefined) {
      clearTimeout(entry.retry);
      entry.retry = undefined;
    }
    this.enqueue(jobId, entry);
    return done;
  }

  /** The lowest revision marked and not yet acted on, if any. */
  lowestPendingRevision(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const revision of this.pending.keys()) if (lowest === undefined || revision < lowest) lowest = revision;
    return lowest;
  }

  /** Starts no more reconciles; resolves once those running have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) {
      if (entry.retry !== undefined) clearTimeout(entry.retry);
      entry.retry = undefined;
      for (const resolve of entry.waiters.splice(0)) resolve();
    }
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(jobId: string, entry: Entry): void {
    if (entry.running || entry.queued || entry.retry !== undefined) return;
    entry.queued = true;
    this.ready.push(jobId);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.concurrency && this.ready.length > 0) {
      const jobId = this.ready.shift()!;
      const entry = this.entries.get(jobId)!;
      entry.queued = false;
      void this.run(jobId, entry);
    }
  }

  private async run(jobId: string, entry: Entry): Promise<void> {
    entry.running = true;
    entry.dirty = false;
    const revisions = entry.revisions;
    const waiters = entry.waiters;
    entry.revisions = [];
    entry.waiters = [];
    this.active++;
    try {
      await this.options.reconcile(jobId);
      entry.failures = 0;
      for (const revision of revisions) {
        const count = (this.pending.get(revision) ?? 1) - 1;
        if (count > 0) this.pending.set(revision, count);
        else this.pending.delete(revision);
      }
    } catch (error) {
      // Still pending: the next reconcile must act on them.
      entry.revisions = revisions.concat(entry.revisions);
      entry.failures++;
      const { initialBackoffMs = 200, maxBackoffMs = 5000 } = this.options;
      const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(entry.failures - 1, 20));
      this.options.onError?.(jobId, error, delay);
      if (!this.stopped) {
        entry.retry = setTimeout(() => {
          entry.retry = undefined;
          entry.dirty = true;
          this.enqueue(jobId, entry);
        }, delay);
      }
    } finally {
      this.active--;
      entry.running = false;
      for (const resolve of waiters) resolve();
      if (this.stopped) {
        for (const resolve of entry.waiters.splice(0)) resolve();
      } else if (entry.dirty) {
        this.enqueue(jobId, entry);
      } else if (entry.retry === undefined && entry.revisions.length === 0) {
        this.entries.delete(jobId);
      }
      if (this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.pump();
    }
  }
}
