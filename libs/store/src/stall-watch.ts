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
  /** The last tick, on the monotonic clock (to measure stalls) and on the wall clock (to date them); unset while stopped. */
  private lastTick: { monotonic: number; wall: number } | undefined;

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

  /** Stops watching: `now()` is the wall clock from then on. */
  stop(): void {
    clearInterval(this.timer);
    this.lastTick = undefined;
  }

  /** The wall clock, held at the start of a stall that has not been reported yet. */
  readonly now = (): number => {
    const wall = Date.now();
    const stall = this.currentStall();
    return stall === undefined ? wall : Math.min(wall, stall.sinceMs);
  };

  private tick(): void {
    const stall = this.currentStall();
    this.lastTick = { monotonic: performance.now(), wall: Date.now() };
    if (stall !== undefined) this.onStall(stall);
  }

  /** The stall going on since the last tick, past the tolerance, if there is one. */
  private currentStall(): Stall | undefined {
    if (this.lastTick === undefined) return undefined;
    const overdueMs = performance.now() - this.lastTick.monotonic - this.tickMs - this.toleranceMs;
    return overdueMs > 0 ? { sinceMs: this.lastTick.wall + this.tickMs + this.toleranceMs, lengthMs: Math.ceil(overdueMs) } : undefined;
  }
}
