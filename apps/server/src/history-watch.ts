import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { CallContext } from '@jobkeep/api';
import { resourceExhausted, unavailable } from '@jobkeep/errors';
import { revisionCompacted, type HistoryEvent, type HistoryFeed, type HistoryFilter, type HistoryPage } from '@jobkeep/store';
import type { WatchSlots } from './watch-slots.js';

export interface WatchSettings {
  /** A stream that has sent nothing for this long gets a progress message. */
  progressIntervalMs: number;
  /** How long a message may wait for a watcher that reads nothing before the stream ends. */
  stallTimeoutMs: number;
  /** Aborted when the server shuts down: watches then end at once with UNAVAILABLE. */
  stopping: AbortSignal;
  /** History rows read at a time; WATCH_PAGE_SIZE unless a test says otherwise. */
  pageSize?: number;
  /** Told when a watch is dropped for not reading, for the log. */
  onStalled?: (nodeId: string, resumeFrom: number) => void;
  /** The watches open per client connection, WatchJobs and WatchExecutions together. */
  slots: WatchSlots;
}

/**
 * History rows a watch reads at a time. With grpc-js's write buffer this bounds what a watch
 * holds in memory, whatever the history's length or the watcher's speed (see followHistory).
 */
export const WATCH_PAGE_SIZE = 256;

/**
 * What may sit between a watch and a watcher that stopped reading, besides the watch's page:
 * grpc-js's write buffer (an object-mode stream of 16, and one message handed to HTTP/2) and the
 * bytes HTTP/2 flow control lets through to the watcher's receive window (64 KiB unless the
 * client sets grpc-node.flow_control_window).
 */
export const GRPC_WRITE_BUFFER_MESSAGES = 17;
export const HTTP2_DEFAULT_WINDOW_BYTES = 65_535;

/** An event, or a progress report: every matching event up to `progress` has been sent. */
export type WatchMessage<E> = { event: E } | { progress: number };

/**
 * One watch of a node database's history: replays it from `fromRevision` (0: from now on),
 * then follows new commits, in revision order, each matching event once.
 *
 * The history is the only queue. The watch keeps a cursor (the next revision to read) and one
 * page of at most `pageSize` rows; it reads the next page only once the bridge has written the
 * last one, and the bridge waits while grpc-js's write buffer is full. So what a watch holds is
 * bounded by design: one page plus grpc-js's write buffer (16 messages, and one more handed to
 * HTTP/2, whose flow-control window bounds the bytes in flight to the watcher). A watcher that
 * reads nothing for `stallTimeoutMs` is dropped with RESOURCE_EXHAUSTED, naming the revision to
 * resume from.
 *
 * The first message is always a progress report with the current revision, as etcd's "created"
 * response: with `fromRevision` 0 it means "seen through here"; a replay's first report only
 * says where the replay will catch up. Later reports come once a replay has caught up, and
 * whenever the caught-up watch has been quiet for `progressIntervalMs`; they always mean "every
 * matching event up to here has been sent". When caught up, the watch sleeps until a commit, the progress interval or the end
 * of the call, then reads again; waking on the interval also picks up writes that other
 * processes made to the file.
 */
export async function* followHistory<E extends HistoryEvent, F extends HistoryFilter>(
  feed: HistoryFeed<E, F>,
  nodeId: string,
  fromRevision: number,
  filter: F,
  context: CallContext,
  settings: WatchSettings,
): AsyncGenerator<WatchMessage<E>> {
  const limit = settings.pageSize ?? WATCH_PAGE_SIZE;
  const commits = new CommitFlag();
  // Listening before the first read, so that no commit can fall between a read and the sleep.
  const stopListening = feed.onCommit(nodeId, commits.raise);
  try {
    const bounds = await feed.bounds(nodeId);
    if (fromRevision > 0 && fromRevision < bounds.oldestRevision) throw revisionCompacted(fromRevision, bounds.oldestRevision);
    let cursor = fromRevision === 0 ? bounds.currentRevision + 1 : fromRevision;
    // Where a watcher that has read every message sent so far resumes.
    let resumeFrom = cursor;
    const read = () => feed.readPage(nodeId, { fromRevision: cursor, filter, limit });
    // The first read comes before the first message, so that a bad filter is refused outright.
    let page: HistoryPage<E> = await read();
    const shuttingDown = () => unavailable(`the server is shutting down; resume with from_revision ${resumeFrom}`);
    context.limitStall(
      settings.stallTimeoutMs,
      () => {
        settings.onStalled?.(nodeId, resumeFrom);
        return resourceExhausted(`watcher stopped reading; resume with from_revision ${resumeFrom}`);
      },
      // A watcher that reads nothing must not hold the shutdown for the whole stall limit.
      { signal: settings.stopping, error: shuttingDown },
    );
    yield { progress: fromRevision === 0 ? cursor - 1 : page.currentRevision };
    let quietSince = Date.now();
    // A replay says when it has caught up, so that the watcher knows its view is current
    // (Kubernetes' end-of-initial-events bookmark) without waiting for the progress interval.
    let replaying = fromRevision > 0;

    for (;;) {
      for (const event of page.events) {
        // Before the yield: the bridge may give up while this message sits in the write buffer,
        // and it will still reach the watcher ahead of the status.
        resumeFrom = event.revision + 1;
        yield { event };
        quietSince = Date.now();
      }
      cursor = page.nextRevision;
      if (cursor <= page.currentRevision) {
        // Replaying: let other calls run between pages of a long history.
        await yieldToIo();
      } else {
        if (replaying || Date.now() - quietSince >= settings.progressIntervalMs) {
          replaying = false;
          resumeFrom = Math.max(resumeFrom, page.currentRevision + 1);
          yield { progress: page.currentRevision };
          quietSince = Date.now();
        }
        await commits.wait(quietSince + settings.progressIntervalMs - Date.now(), [context.signal, settings.stopping]);
      }
      if (context.signal.aborted) throw context.signal.reason;
      if (settings.stopping.aborted) throw shuttingDown();
      commits.lower();
      // Checks the cursor against the compacted revision again: retention may have run.
      page = await read();
    }
  } finally {
    stopListening();
  }
}

/** Whether a commit came since `lower`, and a sleep that a commit cuts short. */
class CommitFlag {
  private raised = false;
  private wake: (() => void) | undefined;

  readonly raise = (): void => {
    this.raised = true;
    this.wake?.();
  };

  lower(): void {
    this.raised = false;
  }

  /**
   * Resolves on a commit (at once if one came since `lower`) or after `ms`; settles early when
   * one of `signals` aborts. Listeners are added and removed by hand: AbortSignal.any would tie
   * a new signal to the server-wide stopping signal on every wake, and Node keeps those.
   */
  wait(ms: number, signals: readonly AbortSignal[]): Promise<void> {
    if (this.raised || ms <= 0 || signals.some((signal) => signal.aborted)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const signal of signals) signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}
