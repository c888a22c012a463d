import type { NodeDatabaseKind, RetentionReport, Storage } from '@jobkeep/store';
import type { Logger } from './logger.js';

/**
 * Runs retention when the server starts (over every catalogued database), when a database is
 * opened later (at most once per interval each), and then every interval. Runs never overlap:
 * each waits for the one before, so that shutdown can wait for the last.
 */
export class RetentionScheduler {
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly lastRun = new Map<string, number>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly storage: Storage,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.storage.retention.active) {
      this.logger.info('retention: every record is kept (no policy set)');
      return;
    }
    const runAll = () =>
      this.storage.retention.runAll(
        (kind, nodeId, error) => this.logger.error({ err: error, kind, nodeId }, 'retention failed on a database; it will be tried again at the next interval'),
        { signal: this.stopping.signal },
      );
    this.enqueue(runAll);
    this.timer = setInterval(() => this.enqueue(runAll), this.intervalMs).unref();
  }

  /** For the store's open hook: a database opened after start gets its pass too. */
  databaseOpened(kind: NodeDatabaseKind, nodeId: string): void {
    if (this.stopping.signal.aborted || !this.storage.retention.active) return;
    const last = this.lastRun.get(`${kind}:${nodeId}`);
    if (last !== undefined && Date.now() - last < this.intervalMs) return;
    this.enqueue(async () => {
      const report = await this.storage.retention.runOne(kind, nodeId, { signal: this.stopping.signal });
      return report === undefined ? [] : [report];
    });
  }

  /** Stops scheduling, ends the pass in progress after its current batch, and waits for it. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    await this.queue;
  }

  private enqueue(run: () => Promise<RetentionReport[]>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopping.signal.aborted) return;
      try {
        for (const report of await run()) this.record(report);
      } catch (error) {
        this.logger.error({ err: error }, 'retention failed; it will run again at the next interval');
      }
    });
  }

  private record(report: RetentionReport): void {
    this.lastRun.set(`${report.kind}:${report.nodeId}`, Date.now());
    const changed = Object.keys(report.failed).length + Object.keys(report.deleted).length + report.batchesDeleted + report.requestIdsRemoved > 0;
    // A pass that changed nothing is worth a line only when debugging.
    this.logger[changed ? 'info' : 'debug'](report, changed ? 'retention applied' : 'retention found nothing to do');
  }
}
