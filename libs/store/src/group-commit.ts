/** The bounds of group commit: how many writes share a transaction, and how long they wait for one. */
export interface GroupCommitSettings {
  /**
   * The most writes one transaction takes; a queue that holds that many writes commits at once.
   * Within a transaction a write counts the records it makes (a CreateBatch of 1,000 jobs as
   * 1,000), and a write bigger than the bound commits alone: big transactions cost more per
   * record than small ones, and hold back the calls of the event loop while they run.
   */
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
 * batch; the one that makes the queue hold maxWrites writes commits it on the spot. `commit` is
 * synchronous and must settle every write it is given, whatever happens.
 */
export class WriteQueue<W> {
  private pending: { write: W; records: number }[] = [];
  private scheduled: ScheduledCommit | undefined;
  /** A commit is running: a write it adds (one store call inside another) waits for the next. */
  private committing = false;

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly commit: (batch: W[]) => void,
  ) {}

  /** Queues `write`, which makes `records` records (see GroupCommitSettings.maxWrites). */
  add(write: W, records = 1): void {
    this.pending.push({ write, records });
    // Counted in writes, not records: a lone big write waits for the end of the turn like any
    // other, so that a caller awaiting one write after another lets the event loop turn.
    if (this.pending.length >= this.settings.maxWrites && !this.committing) this.flush();
    else this.scheduled ??= scheduleCommit(this.settings, () => {
      this.scheduled = undefined;
      this.flush();
    });
  }

  /** Commits every pending write now, in batches of at most `maxWrites` records, in the order they came. */
  flush(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    this.committing = true;
    try {
      while (this.pending.length > 0) this.commit(this.nextBatch());
    } finally {
      this.committing = false;
    }
  }

  /** The writes at the head of the queue that fit in one transaction: always at least one. */
  private nextBatch(): W[] {
    let count = 0;
    let records = 0;
    while (count < this.pending.length && (count === 0 || records + this.pending[count]!.records <= this.settings.maxWrites)) {
      records += this.pending[count]!.records;
      count++;
    }
    return this.pending.splice(0, count).map((entry) => entry.write);
  }
}

/** A commit waiting for its moment; cancelled when the batch commits earlier. */
export interface ScheduledCommit {
  cancel(): void;
}

/** Runs `commit` once the batch has waited as long as `settings` allow (see GroupCommitSettings.maxWaitMs). */
export function scheduleCommit(settings: GroupCommitSettings, commit: () => void): ScheduledCommit {
  if (settings.maxWaitMs === 0) {
    const immediate = setImmediate(commit);
    return { cancel: () => clearImmediate(immediate) };
  }
  const timer = setTimeout(commit, settings.maxWaitMs);
  return { cancel: () => clearTimeout(timer) };
}
