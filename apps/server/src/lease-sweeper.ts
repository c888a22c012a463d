import type { LeaseStore } from '@jobkeep/store';
import type { Logger } from './logger.js';

/**
 * Ends expired leases. It wakes at the next lease's expiry, and at least every `intervalMs`, so
 * that a lease granted or renewed since the last sweep is never noticed more than an interval
 * late. Sweeps never overlap, so that shutdown can wait for the last one.
 */
export class LeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly leases: LeaseStore,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => (this.running = this.sweep()), delayMs).unref();
  }

  private async sweep(): Promise<void> {
    try {
      const expired = await this.leases.expireDue();
      if (expired.length > 0) this.logger.info({ leaseIds: expired }, 'leases expired');
      const next = this.leases.nextExpiry();
      // One millisecond past the expiry, as a lease ends only once `expire_time <= now`.
      this.schedule(next === undefined ? this.intervalMs : Math.min(this.intervalMs, Math.max(1, next - Date.now() + 1)));
    } catch (error) {
      this.logger.error({ err: error }, 'ending expired leases failed; trying again at the next interval');
      this.schedule(this.intervalMs);
    }
  }
}
