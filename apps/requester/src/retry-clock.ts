/**
 * Wakes jobs when their retry time comes, with one timer for the earliest rather than one per
 * job: a requester may have thousands of jobs in backoff.
 */
export class RetryClock {
  private readonly wakes = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;

  constructor(
    private readonly wake: (jobId: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Wakes the job at `at` (ms since the epoch), replacing any earlier request for it. */
  wakeAt(jobId: string, at: number): void {
    if (this.stopped) return;
    this.wakes.set(jobId, at);
    if (at < this.timerAt) this.arm(at);
  }

  forget(jobId: string): void {
    this.wakes.delete(jobId);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wakes.clear();
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    // Never longer than Node's timer limit; a far retry time is re-armed when this fires.
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, at - this.now()), 2 ** 31 - 1));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const [jobId, at] of this.wakes) {
      if (at <= now) {
        this.wakes.delete(jobId);
        this.wake(jobId);
      } else if (at < next) {
        next = at;
      }
    }
    if (next < Infinity && !this.stopped) this.arm(next);
  }
}
