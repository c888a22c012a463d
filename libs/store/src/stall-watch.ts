import { performance } from 'node:perf_hooks';

/** A span of time in which this process ran nothing: its event loop was blocked, or the process was stopped. */
export interface Stall {
  /** Wall-clock milliseconds at which the stall began to count: `toleranceMs` after the loop last ran. */
  sinceMs: number;
  /** How long it lasted from then, in milliseconds. */
  lengthMs: number;
}

export interface StallWatchSettings {
  /** How long the loop may run nothing before the rest of the stall counts; default 500 ms. */
  toleranceMs?: number;
}

/**
 * Notices when this process stops running: a long synchronous transaction, an fsync that the
 * disk holds for seconds, a garbage-collection pause, a stopped process (SIGSTOP), a paused
 * virtual machine (as far as the monotonic clock counts it: a suspended system does not). While
 * it runs nothing, a server reads no keep-alives, so that time must not count against leases.
 *
 * `now()` is the clock to judge leases by. It is the wall clock, except that it stands still
 * from the moment a stall passes the tolerance until the stall is given back: the next tick
 * (the first timer to run after the stall) hands it to `onStall`, which returns whether it was
 * given back. Anything run in between (a keep-alive read in the same turn, a sweep) sees the
 * time the stall began to count, never a later one, so the clock never goes back; and if giving
 * the stall back fails, the clock stays held and the next tick tries again with the longer stall,
 * so that no lease ends for time it was not given.
 *
 * Hand-written: perf_hooks' monitorEventLoopDelay keeps a histogram of delays, not when each
 * stall began or whether it has been given back, which is what crediting a stall needs.
 */
export class StallWatch {
  private readonly toleranceMs: number;
  /** Often enough that a loop that runs is never taken for a stalled one. */
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** When the loop last ran, on the monotonic clock (to measure stalls) and on the wall clock (to date them); unset while stopped. */
  private lastRan: { monotonic: number; wall: number } | undefined;

  constructor(
    private readonly onStall: (stall: Stall) => boolean,
    settings: StallWatchSettings = {},
  ) {
    this.toleranceMs = settings.toleranceMs ?? 500;
    if (!(this.toleranceMs > 0)) throw new RangeError(`a stall tolerance must be positive, not ${this.toleranceMs} ms`);
    this.tickMs = Math.max(1, Math.min(100, Math.floor(this.toleranceMs / 2)));
  }

  start(): void {
    this.lastRan = { monotonic: performance.now(), wall: Date.now() };
    this.timer = setInterval(() => this.tick(), this.tickMs).unref();
  }

  /** Stops watching: `now()` is the wall clock from then on. */
  stop(): void {
    clearInterval(this.timer);
    this.lastRan = undefined;
  }

  /** The wall clock, held where a stall began to count until the stall is given back. */
  readonly now = (): number => {
    const wall = Date.now();
    const stall = this.currentStall();
    return stall === undefined ? wall : Math.min(wall, stall.sinceMs);
  };

  private tick(): void {
    const stall = this.currentStall();
    // Not given back: still held, and the next tick offers the whole stall again.
    if (stall !== undefined && !this.onStall(stall)) return;
    this.lastRan = { monotonic: performance.now(), wall: Date.now() };
  }

  /** The stall going on since the loop last ran, past the tolerance, if there is one. */
  private currentStall(): Stall | undefined {
    if (this.lastRan === undefined) return undefined;
    const overdueMs = performance.now() - this.lastRan.monotonic - this.toleranceMs;
    return overdueMs > 0 ? { sinceMs: this.lastRan.wall + this.toleranceMs, lengthMs: Math.ceil(overdueMs) } : undefined;
  }
}
