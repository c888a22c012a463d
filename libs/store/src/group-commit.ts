/** The bounds of group commit: how many writes share a transaction, and how long they wait for one. */
export interface GroupCommitSettings {
  /**
   * The most writes one transaction takes. Within a transaction a write counts the records it
   * makes (a CreateBatch of 1,000 jobs as 1,000), and a write bigger than the bound commits
   * alone: big transactions cost more per record than small ones, and hold back the calls of the
   * event loop while they run.
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
 * A queue of at most this many writes commits whole; a longer one commits half of what waits,
 * and the rest in the turns after. Splitting a handful would save its client little and cost a
 * second fsync.
 */
const SPLIT_ABOVE = 16;

/**
 * Writes waiting to be committed together. The first one to arrive schedules the commit of the
 * batch, at the end of its turn (or after maxWaitMs). A turn commits one batch: every waiting
 * write when there are SPLIT_ABOVE or fewer, else the first half of them; never more than
 * maxWrites records. The rest commit in the turns that follow, each halved again. Between two
 * batches the event loop sends the replies of the first: when 64 calls arrive together, the
 * client reads the answers to the first 32 while the server writes the next 16, instead of the
 * two processes taking turns to wait for each other (tools/bench/RESULTS.md, "one batch a
 * turn"). `commit` is synchronous and must settle every write it is given, whatever happens.
 */
export class WriteQueue<W> {
  private pending: { write: W; records: number }[] = [];
  private scheduled: ScheduledCommit | undefined;
  /** `scheduled` is the next turn's commit (not a maxWaitMs timer, which a full batch cuts short). */
  private scheduledForNextTurn = false;

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly commit: (batch: W[]) => void,
  ) {}

  /** Queues `write`, which makes `records` records (see GroupCommitSettings.maxWrites). */
  add(write: W, records = 1): void {
    this.pending.push({ write, records });
    // A full batch waits for no timer, but still for the end of the turn: committed within
    // the turn, its replies would wait for the rest of the turn's calls anyway.
    if (this.pending.length >= this.settings.maxWrites) this.commitNextTurn();
    else this.scheduled ??= scheduleCommit(this.settings, () => this.commitOneBatch());
  }

  /** Commits every pending write now, in batches of at most `maxWrites` records, in the order they came. */
  flush(): void {
    this.cancelScheduled();
    while (this.pending.length > 0) this.commit(this.nextBatch(this.pending.length));
  }

  private commitOneBatch(): void {
    this.scheduled = undefined;
    this.scheduledForNextTurn = false;
    const waiting = this.pending.length;
    this.commit(this.nextBatch(waiting <= SPLIT_ABOVE ? waiting : Math.ceil(waiting / 2)));
    if (this.pending.length > 0) this.commitNextTurn();
  }

  private commitNextTurn(): void {
    if (this.scheduledForNextTurn) return;
    this.cancelScheduled();
    this.scheduled = atEndOfTurn(() => this.commitOneBatch());
    this.scheduledForNextTurn = true;
  }

  private cancelScheduled(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    this.scheduledForNextTurn = false;
  }

  /** Up to `most` writes at the head of the queue that fit in one transaction: always at least one. */
  private nextBatch(most: number): W[] {
    let count = 0;
    let records = 0;
    while (count < most && (count === 0 || records + this.pending[count]!.records <= this.settings.maxWrites)) {
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
  if (settings.maxWaitMs === 0) return atEndOfTurn(commit);
  const timer = setTimeout(commit, settings.maxWaitMs);
  return { cancel: () => clearTimeout(timer) };
}

/** Runs `commit` once the event loop has run the callbacks of this turn (and sent what they wrote). */
function atEndOfTurn(commit: () => void): ScheduledCommit {
  const immediate = setImmediate(commit);
  return { cancel: () => clearImmediate(immediate) };
}
