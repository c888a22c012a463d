import { NodeDatabaseKind } from '@jobkeep/api';
import { JobkeepError, WATCH_CHECKPOINT } from '@jobkeep/client';
import type { Logger } from 'pino';
import type { RequesterClients } from './requester-clients.js';

export interface WatchCheckpointOptions {
  nodeId: string;
  clients: RequesterClients;
  logger: Logger;
  /** The lowest revision seen and not yet acted on (the reconcile queue's). */
  lowestPending: () => bigint | undefined;
  /** How long after a change the checkpoint is written, so that a burst costs one write. */
  delayMs?: number;
}

/**
 * The last revision of the requester's database it has acted on, saved in its checkpoint
 * WATCH_CHECKPOINT (the revision as decimal text). A revision counts as acted on once every
 * event up to it has been reconciled, never when it is merely received, so that a requester
 * that crashes replays whatever it had not finished.
 */
export class WatchCheckpoint {
  private seen = 0n;
  private saved = 0n;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly options: WatchCheckpointOptions) {}

  /**
   * Reads the checkpoint. A requester without one writes 0 (which also creates its database,
   * so that the watch has something to follow) and replays its whole history.
   */
  async load(): Promise<bigint> {
    const { clients, nodeId, logger } = this.options;
    const where = { nodeId, kind: NodeDatabaseKind.REQUESTER, name: WATCH_CHECKPOINT };
    for (;;) {
      try {
        const { checkpoint } = await clients.checkpoints.getCheckpoint(where);
        const text = new TextDecoder().decode(checkpoint!.data);
        if (!/^\d+$/.test(text)) {
          logger.warn({ checkpoint: text }, 'watch checkpoint unreadable; replaying the whole history');
          return this.start(0n);
        }
        return this.start(BigInt(text));
      } catch (error) {
        if (!(error instanceof JobkeepError && error.code === 'NOT_FOUND')) throw error;
      }
      try {
        await clients.checkpoints.putCheckpoint({ ...where, data: encode(0n), expectedRevision: 0n });
        return this.start(0n);
      } catch (error) {
        // Written meanwhile (another start of this node): read it.
        if (!(error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION')) throw error;
      }
    }
  }

  /** The watch has delivered everything up to `revision`. */
  see(revision: bigint): void {
    if (revision > this.seen) this.seen = revision;
  }

  /** Where the watch resumes after a failure: after what it has delivered. */
  get resumeFrom(): bigint {
    return this.seen + 1n;
  }

  /** Everything up to this revision has been acted on. */
  acted(): bigint {
    const lowest = this.options.lowestPending();
    return lowest === undefined || lowest > this.seen ? this.seen : lowest - 1n;
  }

  /** Writes the checkpoint shortly, if it has moved. */
  saveSoon(): void {
    if (this.timer !== undefined || this.acted() <= this.saved) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save().catch((error: unknown) => this.options.logger.warn({ err: error }, 'watch checkpoint not saved'));
    }, this.options.delayMs ?? 200);
  }

  /** Writes the checkpoint now if it has moved; one write at a time, in order. */
  save(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.saving = this.saving.catch(() => undefined).then(async () => {
      const acted = this.acted();
      if (acted <= this.saved) return;
      const { clients, nodeId } = this.options;
      await clients.checkpoints.putCheckpoint({ nodeId, kind: NodeDatabaseKind.REQUESTER, name: WATCH_CHECKPOINT, data: encode(acted) });
      this.saved = acted;
    });
    return this.saving;
  }

  private start(revision: bigint): bigint {
    this.seen = revision;
    this.saved = revision;
    return revision;
  }
}

function encode(revision: bigint): Uint8Array {
  return new TextEncoder().encode(revision.toString());
}
