import { performance } from 'node:perf_hooks';

/** A span of time in which this process ran nothing: its event loop was blocked, or the process was stopped. */
export interface Stall {
  /** Wall-clock milliseconds at which the stall began to count (past the watch's tolerance). */
  sinceMs: number;
  /** How long it lasted from then, in milliseconds. */
  lengthMs: number;
}

export interface StallWatchSettings {
  /** How often the watch looks at the clock; default 100 ms. */
  tickMs?: number;
  /** A stall counts only once it is this much longer than a tick; default 500 ms. */
  toleranceMs?: number;
}

/**
 * Notices when this process stops running: a long synchronous transaction, an fsync that the
 * disk holds for seconds, a garbage-collection pause, a process or virtual machine paused. While
 * it runs nothing, a server reads no keep-alives, so the time must not count against leases.
 *
 * `now()` is the clock to judge leases by. It is the wall clock, except that it stands still
 * from the moment a stall passes the tolerance until the watch's next tick, which reports the
 * stall (`onStall`) so that its length can be given back to every lease alive when it began.
 * Until then, anything run after the stall (a keep-alive read in the same turn, a sweep) sees
 * the time the stall began to count, never a later one, so the clock never goes back.
 *
 * Hand-written: perf_hooks' monitorEventLoopDelay keeps a histogram of delays, not when each
 * stall began or whether it has been reported, which is what crediting a stall needs.
 */
export class StallWatch {
  private readonly tickMs: number;
  private readonly toleranceMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** The last tick, on the monotonic clock (to measure stalls) and on the wall clock (to date them). */
  private lastTick = { monotonic: performance.now(), wall: Date.now() };

  constructor(
    private readonly onStall: (stall: Stall) => void,
    settings: StallWatchSettings = {},
  ) {
    this.tickMs = settings.tickMs ?? 100;
    this.toleranceMs = settings.toleranceMs ?? 500;
  }

  start(): void {
    this.lastTick = { monotonic: performance.now(), wall: Date.now() };
    this.timer = setInterval(() => this.tick(), this.tickMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The wall clock, held at the start of a stall that has not been reported yet. */
  readonly now = (): number => {
    const wall = Date.now();
    return this.overdueMs() > 0 ? Math.min(wall, this.countsFrom()) : wall;
  };

  private tick(): void {
    const overdueMs = this.overdueMs();
    const sinceMs = this.countsFrom();
    this.lastTick = { monotonic: performance.now(), wall: Date.now() };
    if (overdueMs > 0) this.onStall({ sinceMs, lengthMs: Math.ceil(overdueMs) });
  }

  /** How long past the tolerance the current tick is late, or a negative number. */
  private overdueMs(): number {
    return performance.now() - this.lastTick.monotonic - this.tickMs - this.toleranceMs;
  }

  /** When the current stall, if there is one, began to count, on the wall clock. */
  private countsFrom(): number {
    return this.lastTick.wall + this.tickMs + this.toleranceMs;
  }
}
