import {
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { statusCodeName, type JobkeepError, type StatusCodeName } from '@jobkeep/errors';
import { createCallContext, type CallContext, type StallLimit } from './call-context.js';
import { toWireStatus, type UnexpectedErrorReporter } from './wire-status.js';

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

/**
 * Yields the responses. The bridge stops pulling once the call is cancelled, which runs the
 * generator's `finally`; a handler that waits for events should also watch `context.signal`,
 * or it only notices the cancellation when its next event comes.
 */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/**
 * Reads the requests. grpc-js ends the request stream of a call the client cancels just before
 * it reports the cancellation, so a cut stream can look complete: a handler must not treat the
 * end of the requests as the client's commitment to something it cannot undo.
 */
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

/** Reads the requests as a ClientStreamingHandler does (mind its caveat) while yielding responses. */
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

export type MethodHandler<M extends DescMethod> =
  M extends DescMethodUnary<infer I, infer O>
    ? UnaryHandler<I, O>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingHandler<I, O>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingHandler<I, O>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? BidiStreamingHandler<I, O>
          : never;

/**
 * Handlers by the methods' local names (`getJob`). A method left out answers UNIMPLEMENTED, as
 * gRPC prescribes, so a service can grow one RPC at a time.
 */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S['method']]?: MethodHandler<S['method'][K]>;
};

/** Throws (or rejects with) a JobkeepError when the handler must not see `request`. */
export type RequestCheck = (request: Message) => void | Promise<void>;

/**
 * Decides, before its handler runs, whether a call may proceed: it refuses the call by throwing
 * (or rejecting with) a JobkeepError, and may return a check that every request message of the
 * call must pass first (one for unary and server-streaming calls, each streamed one otherwise).
 */
export type CallAdmission = (method: DescMethod, context: CallContext) => RequestCheck | undefined | Promise<RequestCheck | undefined>;

export interface ServiceImplementationOptions {
  /** Receives every error that is not a JobkeepError; the client only sees INTERNAL. */
  onUnexpectedError?: UnexpectedErrorReporter;
  /** Runs first in every call: authentication, authorization, validation. */
  admit?: CallAdmission;
  /** Told when a call ends, with the status it ended with and how long it took: for metrics. */
  onCallEnded?: CallObserver;
}

export type CallObserver = (method: DescMethod, code: StatusCodeName, seconds: number) => void;

type AnyHandler = (input: never, context: CallContext) => Promise<unknown> | AsyncIterable<unknown>;

/**
 * Turns typed handlers into a grpc-js implementation, to be added to a server together with
 * `grpcServiceDefinition(service)`. Responses are built with `create()`, so handlers may return
 * plain objects; every failure reaches the wire through `toWireStatus`.
 */
export function implementService<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  options: ServiceImplementationOptions = {},
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = (handlers as Record<string, AnyHandler | undefined>)[method.localName];
    if (handler !== undefined) implementation[method.name] = adapt(method, handler, options);
  }
  return implementation;
}

type AnswerOnceCall = grpc.ServerUnaryCall<Message, Message> | grpc.ServerReadableStream<Message, Message>;
type AnswerStreamCall = grpc.ServerWritableStream<Message, Message> | grpc.ServerDuplexStream<Message, Message>;

function adapt(method: DescMethod, handler: AnyHandler, options: ServiceImplementationOptions): grpc.UntypedHandleCall {
  // Once the call is cancelled or past its deadline, grpc-js has already ended it; whatever the
  // handler throws then is a consequence, reported as the abort itself rather than as a fault.
  const failure = (error: unknown, context: CallContext) =>
    toWireStatus(context.signal.aborted ? context.signal.reason : error, context.methodPath, options.onUnexpectedError);

  // Unary and client-streaming calls: one response, through the callback.
  const answerOnce = (call: AnswerOnceCall, callback: grpc.sendUnaryData<Message>) => {
    const ended = callTimer(method, options.onCallEnded);
    const { context, dispose, endedBy } = createCallContext(call);
    // Building the response inside the chain makes a malformed one a failure like any other.
    run(async () => {
      const input = await admittedInput(call, await options.admit?.(method, context));
      const response = create(method.output, await (handler(input as never, context) as Promise<MessageInitShape<DescMessage>>));
      throwIfEnded(endedBy());
      return response;
    })
      .then(
        (response) => {
          ended('OK');
          callback(null, response);
        },
        (error: unknown) => {
          const status = failure(error, context);
          ended(statusCodeName(status.code));
          callback(status);
        },
      )
      .finally(dispose);
  };

  // Server-streaming and bidi calls: a stream of responses, then the status.
  const answerStream = (call: AnswerStreamCall) => {
    const ended = callTimer(method, options.onCallEnded);
    const { context, dispose, stallLimit, endedBy } = createCallContext(call);
    run(async () => {
      const input = await admittedInput(call, await options.admit?.(method, context));
      await writeAll(call, method.output, handler(input as never, context) as AsyncIterable<never>, context.signal, stallLimit);
      throwIfEnded(endedBy());
    })
      .then(
        () => {
          ended('OK');
          call.end();
        },
        // grpc-js turns an 'error' event on a server stream into the call's final status.
        (error: unknown) => {
          const status = failure(error, context);
          ended(statusCodeName(status.code));
          call.emit('error', status);
        },
      )
      .finally(dispose);
  };

  return method.methodKind === 'unary' || method.methodKind === 'client_streaming' ? answerOnce : answerStream;
}

/** A call the server ended (CallContext.end) fails with its reason, however its handler finished. */
function throwIfEnded(reason: JobkeepError | undefined): void {
  if (reason !== undefined) throw reason;
}

/** Starts timing a call; the returned function reports its end (once) to `observer`. */
function callTimer(method: DescMethod, observer: CallObserver | undefined): (code: StatusCodeName) => void {
  if (observer === undefined) return () => {};
  const started = process.hrtime.bigint();
  return (code) => observer(method, code, Number(process.hrtime.bigint() - started) / 1e9);
}

/** The call's request, or its stream of requests, each passed through `check` first. */
async function admittedInput(call: AnswerOnceCall | AnswerStreamCall, check: RequestCheck | undefined): Promise<Message | AsyncIterable<Message>> {
  if ('request' in call) {
    await check?.(call.request);
    return call.request;
  }
  return check === undefined ? requestsOf(call) : checkedRequests(requestsOf(call), check);
}

async function* checkedRequests(requests: AsyncIterable<Message>, check: RequestCheck): AsyncIterable<Message> {
  for await (const request of requests) {
    await check(request);
    yield request;
  }
}

/**
 * The requests of a client stream. Node destroys a stream when a `for await` over it ends, and a
 * destroyed duplex can no longer send its status: the handler's loop must leave it alone.
 */
function requestsOf(call: grpc.ServerReadableStream<Message, Message> | grpc.ServerDuplexStream<Message, Message>): AsyncIterable<Message> {
  return call.iterator({ destroyOnReturn: false });
}

/** Runs `work`, turning a synchronous throw into a rejection. */
async function run<T>(work: () => Promise<T>): Promise<T> {
  return work();
}

async function writeAll(
  call: AnswerStreamCall,
  schema: DescMessage,
  responses: AsyncIterable<MessageInitShape<DescMessage>>,
  signal: AbortSignal,
  stallLimit: () => StallLimit | undefined,
): Promise<void> {
  for await (const response of responses) {
    if (signal.aborted) return;
    if (!call.write(create(schema, response))) await drained(call, signal, stallLimit());
  }
}

/**
 * Waits for grpc-js's write buffer to drain: a slow client must slow the handler down instead of
 * growing the buffer without bound. The wait ends with an AbortError when the call is cancelled,
 * and with the handler's own error when it set a stall limit and the client read nothing for
 * that long. Messages already written still come before that status, should the client read
 * again: grpc-js ends a stream after its buffered writes.
 */
async function drained(call: AnswerStreamCall, signal: AbortSignal, limit: StallLimit | undefined): Promise<void> {
  // Listeners added and removed by hand: AbortSignal.any would tie a new signal to the call's
  // signal for every wait, and Node keeps those for as long as the call lasts.
  await new Promise<void>((resolve, reject) => {
    const abandon = limit?.abandon;
    const settle = (outcome: () => void) => () => {
      call.off('drain', onDrain);
      signal.removeEventListener('abort', onCancelled);
      abandon?.signal.removeEventListener('abort', onAbandoned);
      clearTimeout(timer);
      outcome();
    };
    const onDrain = settle(resolve);
    const onCancelled = settle(() => reject(signal.reason));
    const onAbandoned = settle(() => reject(abandon!.error()));
    const timer = limit === undefined ? undefined : setTimeout(settle(() => reject(limit.error())), limit.timeoutMs);
    if (signal.aborted) return onCancelled();
    if (abandon?.signal.aborted) return onAbandoned();
    call.once('drain', onDrain);
    signal.addEventListener('abort', onCancelled, { once: true });
    abandon?.signal.addEventListener('abort', onAbandoned, { once: true });
  });
}
