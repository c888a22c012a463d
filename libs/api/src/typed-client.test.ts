import { setTimeout as sleep } from 'node:timers/promises';
import { connectivityState, Metadata } from '@grpc/grpc-js';
import { JobkeepError } from '@jobkeep/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallContext } from './call-context.js';
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from './gen/grpc/health/v1/health_pb.js';
import { JobState, JobStore } from './gen/jobkeep/v1/job_store_pb.js';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { implementService } from './service-implementation.js';
import { Echo } from './test-support/echo-service.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';
import { createTypedClient, type TypedClient } from './typed-client.js';

let server: TestServer;
let client: TypedClient<typeof JobStore>;
let lastContext: CallContext | undefined;

beforeAll(async () => {
  server = await startTestServer((grpcServer) => {
    grpcServer.addService(
      grpcServiceDefinition(JobStore),
      implementService(JobStore, {
        async updateJobState({ jobId, newState }, context) {
          lastContext = context;
          return { job: { id: jobId, state: newState } };
        },
        async listJobs(_request, { signal }) {
          await sleep(300, undefined, { signal });
          return { nextPageToken: 'done' };
        },
      }),
    );
    grpcServer.addService(
      grpcServiceDefinition(Health),
      implementService(Health, {
        async *watch(_request, context) {
          lastContext = context;
          yield { status: ServingStatus.SERVING };
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        },
      }),
    );
    grpcServer.addService(
      grpcServiceDefinition(Echo),
      implementService(Echo, {
        async concat(requests) {
          let text = '';
          for await (const { value } of requests) text += value;
          return { value: text };
        },
        async *chat(requests) {
          yield* requests;
        },
      }),
    );
  });
  client = createTypedClient(JobStore, server.address);
});

afterAll(() => {
  client?.close();
  server?.stop();
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the call succeeded'),
    (caught: unknown) => caught,
  );
}

describe('createTypedClient', () => {
  it('gives every unary call a deadline and passes metadata', async () => {
    const metadata = new Metadata();
    metadata.set('x-request-id', 'r-1');
    const before = Date.now();
    const { job } = await client.updateJobState({ nodeId: 'node-1', jobId: 'j-1', newState: JobState.RUNNING }, { metadata });

    expect(job).toMatchObject({ id: 'j-1', state: JobState.RUNNING });
    expect(lastContext!.metadata.get('x-request-id')).toEqual(['r-1']);
    expect(lastContext!.peer).toMatch(/127\.0\.0\.1/);
    const deadline = lastContext!.deadline!.getTime();
    expect(deadline).toBeGreaterThan(before + 9_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it('uses its default deadline unless the call sets one', async () => {
    const hasty = createTypedClient(JobStore, server.address, { defaultDeadlineMs: 100 });
    try {
      const error = await failure(hasty.listJobs({ nodeId: 'node-1' }));
      expect(error).toBeInstanceOf(JobkeepError);
      expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      const patient = await hasty.listJobs({ nodeId: 'node-1' }, { deadlineMs: 5_000 });
      expect(patient.nextPageToken).toBe('done');
    } finally {
      hasty.close();
    }
  });

  it('leaves streams without a deadline', async () => {
    const health = createTypedClient(Health, server.address);
    try {
      for await (const { status } of health.watch({ service: '' })) {
        expect(status).toBe(ServingStatus.SERVING);
        break;
      }
      expect(lastContext!.deadline).toBeUndefined();
    } finally {
      health.close();
    }
  });

  it('cancels a call when its signal aborts', async () => {
    const error = await failure(client.listJobs({ nodeId: 'node-1' }, { signal: AbortSignal.timeout(50) }));
    expect(error).toMatchObject({ code: 'CANCELLED' });
  });

  it('types requests from the generated messages', () => {
    const wrongFieldType = () =>
      // @ts-expect-error node_id is a string
      client.updateJobState({ nodeId: 42 });
    expect(wrongFieldType).toBeTypeOf('function');
  });

  it('fails a client or bidi stream with the error of its request source', async () => {
    const echo = createTypedClient(Echo, server.address);
    async function* brokenSource() {
      yield { value: 'a' };
      await sleep(20);
      throw new Error('source broke');
    }
    try {
      expect(await failure(echo.concat(brokenSource()))).toMatchObject({ message: 'source broke' });
      const replies: string[] = [];
      // The source breaks only once the first reply is in: what arrived before the failure is
      // delivered, whatever the machine's load.
      let firstReply!: () => void;
      const replied = new Promise<void>((resolve) => (firstReply = resolve));
      async function* sourceBreakingAfterReply() {
        yield { value: 'a' };
        await replied;
        throw new Error('source broke');
      }
      const chatting = (async () => {
        for await (const { value } of echo.chat(sourceBreakingAfterReply())) {
          replies.push(value);
          firstReply();
        }
      })();
      expect(await failure(chatting)).toMatchObject({ message: 'source broke' });
      expect(replies).toEqual(['a']);
    } finally {
      echo.close();
    }
  });

  it('reports the channel state, waits for readiness and closes', async () => {
    const own = createTypedClient(JobStore, server.address);
    await own.waitForReady(Date.now() + 5_000);
    expect(own.connectivityState()).toBe(connectivityState.READY);
    own.close();
    expect(own.connectivityState()).toBe(connectivityState.SHUTDOWN);
    await expect(own.updateJobState({ nodeId: 'node-1' })).rejects.toThrow();
  });

  it('rejects waitForReady with UNAVAILABLE when nothing listens', async () => {
    const nowhere = createTypedClient(JobStore, '127.0.0.1:1');
    try {
      const error = await failure(nowhere.waitForReady(Date.now() + 300));
      expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      nowhere.close();
    }
  });
});
