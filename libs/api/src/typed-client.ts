import { once } from 'node:events';
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
import * as grpc from '@grpc/grpc-js';
import { JobkeepError } from '@jobkeep/errors';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { isLoopbackAddress } from './loopback-address.js';
import { fromWireError } from './wire-status.js';

export interface CallOptions {
  /**
   * How long the call may take. Unary calls default to the client's `defaultDeadlineMs`;
   * streams have no deadline unless given one, since watches and keep-alives run for hours.
   */
  deadlineMs?: number;
  /** Cancels the call: its promise rejects, or its stream throws, with CANCELLED. */
  signal?: AbortSignal;
  metadata?: grpc.Metadata;
}

export type UnaryMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/** The call starts when iteration starts; leaving the loop early cancels it. */
export type ServerStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

export type ClientStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/** Requests are sent as they come while responses are read; leaving the loop cancels the call. */
export type BidiStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

export type ClientMethod<M extends DescMethod> =
  M extends DescMethodUnary<infer I, infer O>
    ? UnaryMethod<I, O>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? ServerStreamingMethod<I, O>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? ClientStreamingMethod<I, O>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? BidiStreamingMethod<I, O>
          : never;

/** The channel behind a client. */
export interface ClientChannel {
  /** Closes the channel to new calls; calls already in flight run to their end (cancel them with their signal). */
  close(): void;
  /** Resolves once connected; rejects with UNAVAILABLE if not connected by `deadline`. */
  waitForReady(deadline: Date | number): Promise<void>;
  /** The channel's state; `tryToConnect` starts connecting an idle channel. */
  connectivityState(tryToConnect?: boolean): grpc.connectivityState;
}

/** Every method of the service by its local name (`getJob`), and the channel's controls. */
export type TypedClient<S extends DescService> = {
  readonly [K in keyof S['method']]: ClientMethod<S['method'][K]>;
} & ClientChannel;

export interface TypedClientOptions {
  /** Insecure (plaintext) when not given. */
  credentials?: grpc.ChannelCredentials;
  /**
   * A bearer token sent as `authorization` metadata with every call. Over plaintext only to a
   * loopback address (grpc-js attaches call credentials to TLS channels only, and a loopback
   * server with authentication on needs the token too); elsewhere `credentials` must be TLS.
   */
  token?: string;
  /** The deadline of unary calls that give none; 10 s by default. */
  defaultDeadlineMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

const DEFAULT_DEADLINE_MS = 10_000;

/**
 * A client of `service` at `target` (`host:port`). Requests are plain objects checked against
 * the generated types; failures reject with the JobkeepError the server threw.
 */
export function createTypedClient<S extends DescService>(
  service: S,
  target: string,
  options: TypedClientOptions = {},
): TypedClient<S> {
  if (options.token !== undefined && options.credentials === undefined && !isLoopbackAddress(target)) {
    // The token would cross the network in clear, to whoever answers at that address.
    throw new JobkeepError('INVALID_ARGUMENT', `refusing to send a bearer token to ${target} without TLS: give the server's CA (--tls-ca)`);
  }
  const client = new grpc.Client(target, options.credentials ?? grpc.credentials.createInsecure(), {
    ...options.channelOptions,
    interceptors: options.token === undefined ? [] : [bearerToken(options.token)],
  });
  const defaultDeadlineMs = options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS;
  const definition = grpcServiceDefinition(service);

  const channel: ClientChannel = {
    close: () => client.close(),
    waitForReady: (deadline) =>
      new Promise((resolve, reject) =>
        client.waitForReady(deadline, (error) =>
          error ? reject(new JobkeepError('UNAVAILABLE', `${target} is not reachable: ${error.message}`, { cause: error })) : resolve(),
        ),
      ),
    connectivityState: (tryToConnect = false) => client.getChannel().getConnectivityState(tryToConnect),
  };

  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.localName in channel) {
      throw new Error(`${method.parent.typeName}.${method.name} clashes with the client's own ${method.localName}()`);
    }
    const { path, requestSerialize, responseDeserialize } = definition[method.name]!;
    const route: MethodRoute = { client, path, serialize: requestSerialize, deserialize: responseDeserialize, input: method.input };
    methods[method.localName] = {
      unary: (request: MessageInitShape<DescMessage>, callOptions: CallOptions = {}) =>
        callUnary(route, request, { ...callOptions, deadlineMs: callOptions.deadlineMs ?? defaultDeadlineMs }),
      server_streaming: (request: MessageInitShape<DescMessage>, callOptions: CallOptions = {}) =>
        callServerStreaming(route, request, callOptions),
      client_streaming: (requests: AsyncIterable<MessageInitShape<DescMessage>>, callOptions: CallOptions = {}) =>
        callClientStreaming(route, requests, callOptions),
      bidi_streaming: (requests: AsyncIterable<MessageInitShape<DescMessage>>, callOptions: CallOptions = {}) =>
        callBidiStreaming(route, requests, callOptions),
    }[method.methodKind];
  }
  // The record holds exactly the methods TypedClient<S> maps, built from the same descriptor.
  return Object.assign(methods, channel) as TypedClient<S>;
}

/** Adds `authorization: Bearer <token>` to the metadata of every call. */
function bearerToken(token: string): grpc.Interceptor {
  const value = `Bearer ${token}`;
  return (callOptions, nextCall) =>
    new grpc.InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

/** Where and how one method's calls go. */
interface MethodRoute {
  client: grpc.Client;
  path: string;
  serialize: (message: Message) => Buffer;
  deserialize: (bytes: Buffer) => Message;
  input: DescMessage;
}

function callUnary(route: MethodRoute, request: MessageInitShape<DescMessage>, options: CallOptions): Promise<Message> {
  return new Promise((resolve, reject) => {
    // Assigned once the call exists; grpc-js may report a cancelled call synchronously.
    let stopListening = () => {};
    const pending = route.client.makeUnaryRequest(
      route.path, route.serialize, route.deserialize, create(route.input, request), metadataOf(options), grpcCallOptions(options),
      (error, response) => {
        stopListening();
        if (error) reject(fromWireError(error));
        else resolve(response!);
      },
    );
    stopListening = onAbort(options.signal, () => pending.cancel());
  });
}

function callServerStreaming(route: MethodRoute, request: MessageInitShape<DescMessage>, options: CallOptions): AsyncIterable<Message> {
  return readResponses(options, () =>
    route.client.makeServerStreamRequest(route.path, route.serialize, route.deserialize, create(route.input, request), metadataOf(options), grpcCallOptions(options)),
  );
}

function callClientStreaming(route: MethodRoute, requests: AsyncIterable<MessageInitShape<DescMessage>>, options: CallOptions): Promise<Message> {
  return new Promise((resolve, reject) => {
    const finished = new AbortController();
    let sendFailure: unknown;
    let stopListening = () => {};
    const pending = route.client.makeClientStreamRequest(
      route.path, route.serialize, route.deserialize, metadataOf(options), grpcCallOptions(options),
      (error, response) => {
        finished.abort();
        stopListening();
        if (sendFailure !== undefined) reject(sendFailure);
        else if (error) reject(fromWireError(error));
        else resolve(response!);
      },
    );
    stopListening = onAbort(options.signal, () => pending.cancel());
    writeRequests(pending, route.input, requests, finished.signal).catch((error: unknown) => {
      sendFailure = error;
      pending.cancel();
    });
  });
}

function callBidiStreaming(route: MethodRoute, requests: AsyncIterable<MessageInitShape<DescMessage>>, options: CallOptions): AsyncIterable<Message> {
  let sendFailure: unknown;
  return readResponses(
    options,
    () => {
      const pending = route.client.makeBidiStreamRequest(route.path, route.serialize, route.deserialize, metadataOf(options), grpcCallOptions(options));
      const finished = new AbortController();
      pending.once('status', () => finished.abort());
      writeRequests(pending, route.input, requests, finished.signal).catch((error: unknown) => {
        sendFailure = error;
        pending.cancel();
      });
      return pending;
    },
    () => sendFailure,
  );
}

/**
 * Reads a response stream, started lazily so that a stream nobody iterates opens no call.
 * When the requests could not be sent, that failure is what the caller sees, not CANCELLED.
 */
async function* readResponses(
  options: CallOptions,
  start: () => grpc.ClientReadableStream<Message> | grpc.ClientDuplexStream<Message, Message>,
  sendFailure: () => unknown = () => undefined,
): AsyncGenerator<Message> {
  const stream = start();
  const stopListening = onAbort(options.signal, () => stream.cancel());
  try {
    for await (const message of stream) yield message as Message;
  } catch (error) {
    throw sendFailure() ?? fromWireError(error);
  } finally {
    stopListening();
    // Frees the server when the consumer leaves early; does nothing once the status arrived.
    stream.cancel();
  }
}

/** Sends the requests, waiting for the channel to drain; ends the request stream after the last. */
async function writeRequests(
  stream: grpc.ClientWritableStream<Message> | grpc.ClientDuplexStream<Message, Message>,
  schema: DescMessage,
  requests: AsyncIterable<MessageInitShape<DescMessage>>,
  finished: AbortSignal,
): Promise<void> {
  for await (const request of requests) {
    // The call may end first (the server answered or failed): stop pulling requests then.
    if (finished.aborted) return;
    if (!stream.write(create(schema, request))) {
      try {
        await once(stream, 'drain', { signal: finished });
      } catch (error) {
        if (finished.aborted) return;
        throw error;
      }
    }
  }
  if (!finished.aborted) stream.end();
}

function grpcCallOptions(options: CallOptions): grpc.CallOptions {
  return options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
}

function metadataOf(options: CallOptions): grpc.Metadata {
  return options.metadata ?? new grpc.Metadata();
}

/** Runs `cancel` when `signal` aborts (at once if it already has); returns the unsubscribe. */
function onAbort(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    cancel();
    return () => {};
  }
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}
