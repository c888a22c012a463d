import { EventEmitter, on } from 'node:events';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { JobkeepError } from '@jobkeep/errors';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from './gen/grpc/health/v1/health_pb.js';
import { JobSchema, JobState, JobStore, type Job } from './gen/jobkeep/v1/job_store_pb.js';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import type { CallContext } from './call-context.js';
import { implementService } from './service-implementation.js';
import { Echo } from './test-support/echo-service.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';
import { createTypedClient, type TypedClient } from './typed-client.js';
import { MAX_STATUS_MESSAGE_BYTES } from './wire-status.js';

/** Health statuses by service name; 'change' is emitted with (service, status). */
class StatusBoard extends EventEmitter {
  private readonly statuses = new Map<string, ServingStatus>();
  get(service: string) {
    return this.statuses.get(service);
  }
  set(service: string, status: ServingStatus) {
    this.statuses.set(service, status);
    this.emit('change', service, status);
  }
}

const jobs = new Map<string, Job>();
const unexpected: Array<{ error: unknown; methodPath: string }> = [];
const board = new StatusBoard();
let openWatches = 0;
let slowCallSignal: AbortSignal | undefined;
let repeated = 0;
let repeatClosed = false;

let server: TestServer;
let jobStore: TypedClient<typeof JobStore>;
let health: TypedClient<typeof Health>;
let echo: TypedClient<typeof Echo>;

beforeAll(async () => {
  const onUnexpectedError = (error: unknown, methodPath: string) => unexpected.push({ error, methodPath });
  server = await startTestServer((grpcServer) => {
    grpcServer.addService(
      grpcServiceDefinition(JobStore),
      implementService(
        JobStore,
        {
          async createJob({ job }) {
            const stored: Job = { ...create(JobSchema, job), id: 'j-1', revision: 7n, version: 1n };
            jobs.set(stored.id, stored);
            return { job: stored };
          },
          async getJob({ key }) {
            const job = key.case === 'id' ? jobs.get(key.value) : undefined;
            if (job === undefined) throw new JobkeepError('NOT_FOUND', `job ${String(key.value)} not found`);
            return { job };
          },
          async deleteJob() {
            throw new Error('SQLITE_CORRUPT: /var/lib/jobkeep/node-1-requester.db');
          },
          async listJobs(_request, { signal }) {
            slowCallSignal = signal;
            await sleep(5_000, undefined, { signal });
            return {};
          },
          // Every other method is left out, so the bridge answers it UNIMPLEMENTED.
        },
        { onUnexpectedError },
      ),
    );
    grpcServer.addService(
      grpcServiceDefinition(Health),
      implementService(Health, {
        async check({ service }) {
          const status = board.get(service);
          if (status === undefined) throw new JobkeepError('NOT_FOUND', `unknown service ${service}`);
          return { status };
        },
        async *watch({ service }, { signal }) {
          openWatches++;
          try {
            // Listening before the first answer, so that no change can slip in between.
            const changes = on(board, 'change', { signal });
            yield { status: board.get(service) ?? ServingStatus.SERVICE_UNKNOWN };
            for await (const [changed, status] of changes) {
              if (changed === service) yield { status: status as ServingStatus };
            }
          } finally {
            openWatches--;
          }
        },
      }),
    );
    grpcServer.addService(
      grpcServiceDefinition(Echo),
      implementService(
        Echo,
        {
          async *repeat({ value }) {
            try {
              for (;;) {
                // Giving way to I/O, as a real producer does: without backpressure this loop
                // would run far ahead of the reader rather than starve the process.
                await setImmediate();
                repeated++;
                yield { value };
              }
            } finally {
              repeatClosed = true;
            }
          },
          async concat(requests) {
            let text = '';
            for await (const { value } of requests) text += value;
            return { value: text };
          },
          async *chat(requests) {
            for await (const { value } of requests) {
              if (value === 'boom') throw new JobkeepError('FAILED_PRECONDITION', 'no booms allowed');
              yield { value: value.toUpperCase() };
            }
          },
        },
        { onUnexpectedError },
      ),
    );
  });
  jobStore = createTypedClient(JobStore, server.address);
  health = createTypedClient(Health, server.address);
  echo = createTypedClient(Echo, server.address);
});

afterAll(() => {
  jobStore?.close();
  health?.close();
  echo?.close();
  server?.stop();
});

async function failure(promise: Promise<unknown>): Promise<JobkeepError> {
  const error = await promise.then(
    () => expect.unreachable('the call succeeded'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(JobkeepError);
  return error as JobkeepError;
}

async function* items<T>(...values: T[]): AsyncGenerator<T> {
  yield* values;
}

describe('implementService, unary', () => {
  it('carries a Struct, a map and a Timestamp both ways', async () => {
    const createTime = new Date('2025-03-04T05:06:07.089Z');
    const spec = { image: 'alpine:3', args: ['echo', 'hi'], retries: 3, limits: { cpu: 0.5, gpu: null }, dryRun: false };
    const { job: created } = await jobStore.createJob({
      nodeId: 'node-1',
      job: { labels: { team: 'ingest', tier: 'gold' }, spec, state: JobState.QUEUED, createTime: timestampFromDate(createTime) },
    });
    const { job } = await jobStore.getJob({ nodeId: 'node-1', key: { case: 'id', value: created!.id } });

    expect(job!.id).toBe('j-1');
    expect(job!.spec).toEqual(spec);
    expect(job!.labels).toEqual({ team: 'ingest', tier: 'gold' });
    expect(timestampDate(job!.createTime!)).toEqual(createTime);
    expect(job!.state).toBe(JobState.QUEUED);
    expect(job!.revision).toBe(7n);
  });

  it('sends a JobkeepError as its own status code and message', async () => {
    const error = await failure(jobStore.getJob({ nodeId: 'node-1', key: { case: 'id', value: 'j-404' } }));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('job j-404 not found');
    expect(error.cause).toMatchObject({ code: 5, details: 'job j-404 not found' });
  });

  it('cuts a message that quotes a huge input, so that the connection keeps answering', async () => {
    // Sent whole, a message over 64 KiB is refused by the client's HTTP/2 layer, and the call and
    // every later one on the connection then went unanswered until their deadlines.
    const error = await failure(jobStore.getJob({ nodeId: 'node-1', key: { case: 'id', value: 'x'.repeat(1024 * 1024) } }, { deadlineMs: 5000 }));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toMatch(/^job x+…$/);
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    const next = await failure(jobStore.getJob({ nodeId: 'node-1', key: { case: 'id', value: 'j-404' } }, { deadlineMs: 5000 }));
    expect(next.code).toBe('NOT_FOUND');
  });

  it('sends any other error as INTERNAL, hiding its details, and reports it', async () => {
    unexpected.length = 0;
    const error = await failure(jobStore.deleteJob({ nodeId: 'node-1', jobId: 'j-1' }));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('internal server error');
    expect(unexpected).toHaveLength(1);
    expect(unexpected[0]!.methodPath).toBe('/jobkeep.v1.JobStore/DeleteJob');
    expect(unexpected[0]!.error).toMatchObject({ message: expect.stringContaining('SQLITE_CORRUPT') });
  });

  it('answers UNIMPLEMENTED for a method without a handler', async () => {
    const error = await failure(jobStore.updateJob({ nodeId: 'node-1' }));
    expect(error.code).toBe('UNIMPLEMENTED');
  });

  it('answers DEADLINE_EXCEEDED past the deadline and aborts the handler', async () => {
    unexpected.length = 0;
    const error = await failure(jobStore.listJobs({ nodeId: 'node-1' }, { deadlineMs: 100 }));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    await vi.waitFor(() => expect(slowCallSignal?.aborted).toBe(true));
    // The client gives up at its deadline too, so its cancellation often arrives first.
    expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain((slowCallSignal!.reason as JobkeepError).code);
    // The handler's AbortError is the deadline's doing, not a fault to report.
    await sleep(50);
    expect(unexpected).toEqual([]);
  });
});

describe('implementService, streaming', () => {
  it('delivers a server stream in order', async () => {
    board.set('jobkeep.v1.JobStore', ServingStatus.SERVING);
    const seen: ServingStatus[] = [];
    for await (const { status } of health.watch({ service: 'jobkeep.v1.JobStore' })) {
      seen.push(status);
      if (seen.length === 1) {
        board.set('jobkeep.v1.JobStore', ServingStatus.NOT_SERVING);
        board.set('other', ServingStatus.NOT_SERVING);
        board.set('jobkeep.v1.JobStore', ServingStatus.SERVING);
        board.set('jobkeep.v1.JobStore', ServingStatus.NOT_SERVING);
      }
      if (seen.length === 4) break;
    }
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    // Leaving the loop cancelled the call, which ended the handler.
    await vi.waitFor(() => expect(openWatches).toBe(0));
  });

  it('ends the handler when the client cancels through its signal', async () => {
    const cancel = new AbortController();
    const watching = (async () => {
      for await (const { status } of health.watch({ service: 'absent' }, { signal: cancel.signal })) {
        expect(status).toBe(ServingStatus.SERVICE_UNKNOWN);
        cancel.abort();
      }
    })();
    const error = await failure(watching);
    expect(error.code).toBe('CANCELLED');
    await vi.waitFor(() => expect(openWatches).toBe(0));
  });

  it('stops pulling responses while the client is not reading', async () => {
    const big = 'x'.repeat(64 * 1024);
    for await (const _message of echo.repeat({ value: big })) {
      await sleep(300);
      // Flow control lets a few dozen messages through the buffers; an unthrottled handler
      // would have produced without end.
      expect(repeated).toBeLessThan(100);
      break;
    }
    await vi.waitFor(() => expect(repeatClosed).toBe(true));
  });

  it('sends a JobkeepError thrown mid-stream after the responses before it', async () => {
    const replies: string[] = [];
    const error = await failure(
      (async () => {
        for await (const { value } of echo.chat(items({ value: 'a' }, { value: 'boom' }, { value: 'c' }))) replies.push(value);
      })(),
    );
    expect(replies).toEqual(['A']);
    expect(error.code).toBe('FAILED_PRECONDITION');
    expect(error.message).toBe('no booms allowed');
  });

  it('gives a client-streaming handler the requests as an async iterable', async () => {
    const { value } = await echo.concat(items({ value: 'lease-' }, { value: '42' }));
    expect(value).toBe('lease-42');
  });

  it('lets a bidi handler answer each request before the next is sent', async () => {
    const replies: string[] = [];
    let replied: () => void = () => {};
    async function* pings() {
      for (const value of ['ping-1', 'ping-2', 'ping-3']) {
        const answered = new Promise<void>((resolve) => (replied = resolve));
        yield { value };
        await answered; // as a lease keep-alive waits for each answer
      }
    }
    for await (const { value } of echo.chat(pings())) {
      replies.push(value);
      replied();
    }
    expect(replies).toEqual(['PING-1', 'PING-2', 'PING-3']);
  });
});

describe('implementService, a call the server ends', () => {
  it('fails with the reason given to end(), even when the handler then returns quietly, and tells onEnded', async () => {
    let admitted: CallContext | undefined;
    let endedCalls = 0;
    const ended = await startTestServer((grpcServer) => {
      grpcServer.addService(
        grpcServiceDefinition(Health),
        implementService(
          Health,
          {
            async *watch(_request, { signal }) {
              yield { status: ServingStatus.SERVING };
              // Returns, rather than throws, once its signal aborts: the status must still be the end's.
              await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
            },
          },
          {
            admit: (_method, context) => {
              admitted = context;
              context.onEnded(() => endedCalls++);
              return undefined;
            },
          },
        ),
      );
    });
    const client = createTypedClient(Health, ended.address);
    try {
      const watch = client.watch({ service: 'any' })[Symbol.asyncIterator]();
      expect((await watch.next()).value).toMatchObject({ status: ServingStatus.SERVING });
      admitted!.end(new JobkeepError('UNAUTHENTICATED', 'taken back'));
      const error = await failure(watch.next());
      expect({ code: error.code, message: error.message }).toEqual({ code: 'UNAUTHENTICATED', message: 'taken back' });
      await vi.waitFor(() => expect(endedCalls).toBe(1));
    } finally {
      client.close();
      ended.stop();
    }
  });
});
