import { JobkeepError } from '@jobkeep/errors';
import type * as grpc from '@grpc/grpc-js';

/** What a handler knows about the call it serves, besides the request. */
export interface CallContext {
  /** The method's path, such as `/jobkeep.v1.JobStore/GetJob`. */
  readonly methodPath: string;
  readonly metadata: grpc.Metadata;
  /** The client's address, as grpc-js reports it (`ipv4:127.0.0.1:53412`). */
  readonly peer: string;
  /** When the client stops waiting; undefined when it set no deadline. */
  readonly deadline: Date | undefined;
  /**
   * Aborted when the client cancels or the deadline passes, with a JobkeepError (CANCELLED or
   * DEADLINE_EXCEEDED) as its reason. A client also cancels when its own deadline passes, which
   * often arrives first. Pass it on to anything slow, so abandoned work stops.
   */
  readonly signal: AbortSignal;
  /**
   * Server-streaming and bidi calls: ends the call with `error()` as its status once a response
   * has waited `timeoutMs` for a client that reads nothing (grpc-js's write buffer stays full),
   * rather than holding the handler for as long as the client neither reads nor cancels.
   * `error` is called then, so it can name how far the stream got. A later call replaces the
   * limit; unary and client-streaming calls have no responses to wait on and ignore it.
   * With `abandon`, the wait also ends, with `abandon.error()`, as soon as `abandon.signal`
   * aborts (the server shutting down), however long the stall limit.
   */
  limitStall(timeoutMs: number, error: () => JobkeepError, abandon?: { signal: AbortSignal; error: () => JobkeepError }): void;
  /**
   * Ends the call with `reason` as its status: aborts `signal` with it, and the call fails with
   * it even if its handler then returns quietly. For a server taking back what it admitted: a
   * stream whose token was revoked while it was open.
   */
  end(reason: JobkeepError): void;
  /** Runs `listener` once the call is over, however it ended. */
  onEnded(listener: () => void): void;
}

/** A stream's limit on waiting for a client that does not read, as set by `limitStall`. */
export interface StallLimit {
  timeoutMs: number;
  error: () => JobkeepError;
  abandon?: { signal: AbortSignal; error: () => JobkeepError };
}

/** The surface shared by the four kinds of grpc-js server calls. */
interface ServerCall {
  readonly metadata: grpc.Metadata;
  readonly cancelled: boolean;
  getPeer(): string;
  getDeadline(): grpc.Deadline;
  getPath(): string;
  once(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

// setTimeout fires at once for delays it cannot represent; such deadlines are as good as none.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Builds the context of one call. `dispose` must be called when the handler is done, so that
 * the deadline timer and the cancellation listener do not outlive the call.
 */
export function createCallContext(call: ServerCall): {
  context: CallContext;
  dispose: () => void;
  stallLimit: () => StallLimit | undefined;
  /** The reason the server ended the call with (`end`), if it did. */
  endedBy: () => JobkeepError | undefined;
} {
  const controller = new AbortController();
  const methodPath = call.getPath();
  const deadline = toDate(call.getDeadline());

  const onCancelled = () =>
    controller.abort(new JobkeepError('CANCELLED', `${methodPath} was cancelled by the client`));
  call.once('cancelled', onCancelled);
  if (call.cancelled) onCancelled();

  // grpc-js answers DEADLINE_EXCEEDED by itself but tells the handler nothing: the timer does.
  let timer: NodeJS.Timeout | undefined;
  const remainingMs = deadline === undefined ? Infinity : deadline.getTime() - Date.now();
  if (remainingMs <= MAX_TIMER_DELAY_MS) {
    timer = setTimeout(
      () => controller.abort(new JobkeepError('DEADLINE_EXCEEDED', `${methodPath} ran past its deadline`)),
      Math.max(0, remainingMs),
    );
  }

  let stallLimit: StallLimit | undefined;
  const limitStall: CallContext['limitStall'] = (timeoutMs, error, abandon) => {
    stallLimit = { timeoutMs, error, abandon };
  };

  let endedBy: JobkeepError | undefined;
  const end = (reason: JobkeepError) => {
    if (controller.signal.aborted) return;
    endedBy = reason;
    controller.abort(reason);
  };
  const endListeners: (() => void)[] = [];

  return {
    context: {
      methodPath,
      metadata: call.metadata,
      peer: call.getPeer(),
      deadline,
      signal: controller.signal,
      limitStall,
      end,
      onEnded: (listener) => endListeners.push(listener),
    },
    stallLimit: () => stallLimit,
    endedBy: () => endedBy,
    dispose: () => {
      clearTimeout(timer);
      call.off('cancelled', onCancelled);
      for (const listener of endListeners.splice(0)) listener();
    },
  };
}

function toDate(deadline: grpc.Deadline): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
