import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type {
  CallOptions,
  ExecutionStore,
  JobStore,
  TypedClient,
  WatchExecutionsRequestSchema,
  WatchExecutionsResponse,
  WatchJobsRequestSchema,
  WatchJobsResponse,
  WatchProgress,
} from '@jobkeep/api';
import { JobkeepError } from '@jobkeep/errors';
import { backoff, isTransient } from './reconnection.js';

export interface ResumableWatchOptions {
  /** Stops the watch: the loop then throws CANCELLED, as every call of the client does. */
  signal?: AbortSignal;
  /** The first wait before reconnecting; it doubles with each failure in a row. 100 ms by default. */
  initialBackoffMs?: number;
  /** The longest wait between reconnections. 5 s by default. */
  maxBackoffMs?: number;
  /** Failed attempts in a row (none delivering a message) before giving up with the last error; no limit by default. */
  maxAttempts?: number;
  /** Told of every failure that will be retried, with where the watch resumes and after how long: for logs. */
  onRetry?: (error: JobkeepError, fromRevision: bigint, delayMs: number) => void;
}

/** What both watches answer: an event with a revision, or a progress report. */
interface WatchResponse {
  kind: { case: 'event'; value: { revision: bigint } } | { case: 'progress'; value: WatchProgress } | { case: undefined; value?: undefined };
}

type OpenWatch<R, M> = (request: R & { fromRevision: bigint }, options: CallOptions) => AsyncIterable<M>;

/**
 * WatchJobs as an async iterator that outlives connections: after a dropped connection, a
 * server restart or a stall (UNAVAILABLE, RESOURCE_EXHAUSTED, a reset stream) it reconnects with
 * backoff and resumes from the revision after the last one it saw, so that every event is
 * yielded exactly once, in revision order. Failures a retry cannot mend (OUT_OF_RANGE,
 * INVALID_ARGUMENT, NOT_FOUND, ...) are thrown. Stop it with `options.signal` or by leaving the
 * loop.
 *
 * Progress reports are yielded when they mean "every matching event up to this revision has
 * been yielded": the report that opens a watch from revision 0, a replay's report that it has
 * caught up, and the reports of an idle stream. The report opening a replay (where it will
 * catch up, before its events) is not.
 */
export function watchJobs(
  client: Pick<TypedClient<typeof JobStore>, 'watchJobs'>,
  request: MessageInitShape<typeof WatchJobsRequestSchema>,
  options: ResumableWatchOptions = {},
): AsyncGenerator<WatchJobsResponse> {
  return resumableWatch<MessageInitShape<typeof WatchJobsRequestSchema>, WatchJobsResponse>(
    (attempt, callOptions) => client.watchJobs(attempt, callOptions),
    request,
    options,
  );
}

/** WatchExecutions as an async iterator that outlives connections; see watchJobs. */
export function watchExecutions(
  client: Pick<TypedClient<typeof ExecutionStore>, 'watchExecutions'>,
  request: MessageInitShape<typeof WatchExecutionsRequestSchema>,
  options: ResumableWatchOptions = {},
): AsyncGenerator<WatchExecutionsResponse> {
  return resumableWatch<MessageInitShape<typeof WatchExecutionsRequestSchema>, WatchExecutionsResponse>(
    (attempt, callOptions) => client.watchExecutions(attempt, callOptions),
    request,
    options,
  );
}

async function* resumableWatch<R extends { fromRevision?: bigint }, M extends WatchResponse>(
  open: OpenWatch<R, M>,
  request: R,
  options: ResumableWatchOptions,
): AsyncGenerator<M> {
  const { signal, initialBackoffMs = 100, maxBackoffMs = 5000, maxAttempts = Infinity, onRetry } = options;
  // The next revision to yield; 0 until the first report says where "from now on" starts.
  let next = request.fromRevision ?? 0n;
  let failures = 0;
  for (;;) {
    const fromRevision = next;
    let opening = true;
    try {
      for await (const message of open({ ...request, fromRevision }, { signal })) {
        failures = 0;
        const first = opening;
        opening = false;
        if (message.kind.case === 'event') {
          // A reconnection starts after the last event seen: an older one can only be a repeat.
          if (message.kind.value.revision < next) continue;
          next = message.kind.value.revision + 1n;
          yield message;
        } else if (message.kind.case === 'progress') {
          // A replay's opening report says where it will catch up, not what has been sent.
          if (first && fromRevision > 0n) continue;
          const seen = message.kind.value.revision + 1n;
          if (seen > next) next = seen;
          yield message;
        }
      }
      // A watch never ends by itself; if the server ended it, start it again where it left off.
      throw new JobkeepError('UNAVAILABLE', 'the server ended the watch');
    } catch (error) {
      if (signal?.aborted || !isTransient(error)) throw error;
      failures++;
      if (failures >= maxAttempts) throw error;
      const delayMs = backoff(failures, initialBackoffMs, maxBackoffMs);
      onRetry?.(error, next, delayMs);
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        throw new JobkeepError('CANCELLED', 'the watch was cancelled');
      }
    }
  }
}
