/** The bounds of group commit: how many writes share a transaction, and how long they wait for one. */
export interface GroupCommitSettings {
  /** The most writes one transaction takes; a queue that reaches it commits at once. */
  maxWrites: number;
  /**
   * How long the first write of a batch waits for others before the batch commits, in
   * milliseconds. 0: only until the event loop has run the callbacks of its turn, so that the
   * calls that arrived together commit together and a lone write waits for no timer.
   */
  maxWaitMs: number;
}

/** Measured in tools/bench/RESULTS.md ("issue 9: group commit"). */
export const GROUP_COMMIT_DEFAULTS: GroupCommitSettings = { maxWrites: 256, maxWaitMs: 0 };

/**
 * Writes waiting to be committed together. The first one to arrive schedules the commit of the
 * batch; the one that makes the batch full commits it on the spot. `commit` is synchronous and
 * must settle every write it is given, whatever happens.
 */
export class WriteQueue<W> {
  private pending: W[] = [];
  private scheduled: { cancel(): void } | undefined;
  /** A commit is running: a write it adds (one store call inside another) waits for the next. */
  private committing = false;

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly commit: (batch: W[]) => void,
  ) {}

  add(write: W): void {
    this.pending.push(write);
    if (this.pending.length >= this.settings.maxWrites && !this.committing) this.flush();
    else this.scheduled ??= this.schedule();
  }

  /** Commits every pending write now, in batches of at most `maxWrites`, in the order they came. */
  flush(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    this.committing = true;
    try {
      while (this.pending.length > 0) this.commit(this.pending.splice(0, this.settings.maxWrites));
    } finally {
      this.committing = false;
    }
  }

  private schedule(): { cancel(): void } {
    const run = () => {
      this.scheduled = undefined;
      this.flush();
    };
    if (this.settings.maxWaitMs === 0) {
      const immediate = setImmediate(run);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(run, this.settings.maxWaitMs);
    return { cancel: () => clearTimeout(timer) };
  }
}
