import * as grpc from '@grpc/grpc-js';
import { JobState, JobStore, grpcServiceDefinition, implementService, type ServiceHandlers } from '@jobkeep/api';
import { JobkeepError } from '@jobkeep/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobStoreClient, type JobStoreClient } from './index.js';

/*
 * The client's own behaviour (request ids, retries, deadlines) is checked against a real gRPC
 * server whose handlers record what arrives and fail on purpose; the store itself is exercised
 * through the real server in apps/server's tests.
 */
describe('createJobStoreClient', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function serve(handlers: ServiceHandlers<typeof JobStore>, clientOptions = {}): Promise<JobStoreClient> {
    const server = new grpc.Server();
    server.addService(grpcServiceDefinition(JobStore), implementService(JobStore, handlers));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const client = createJobStoreClient(`127.0.0.1:${port}`, clientOptions);
    cleanups.push(() => client.close(), () => server.forceShutdown());
    return client;
  }

  it('gives every create a request id, keeping the caller’s own', async () => {
    const seen: string[] = [];
    const client = await serve({
      async createJob(request) {
        seen.push(request.requestId);
        return { job: { id: 'j-1' } };
      },
    });
    await client.createJob({ nodeId: 'n', job: {} });
    await client.createJob({ nodeId: 'n', job: {}, requestId: 'mine' });
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]).toBe('mine');
  });

  it('retries a create refused with UNAVAILABLE, with the same request id', async () => {
    const seen: string[] = [];
    const client = await serve({
      async createJob(request) {
        seen.push(request.requestId);
        if (seen.length === 1) throw new JobkeepError('UNAVAILABLE', 'restarting');
        return { job: { id: 'j-1', state: JobState.PENDING } };
      },
    });
    const { job } = await client.createJob({ nodeId: 'n', job: {} });
    expect(job?.id).toBe('j-1');
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(seen[0]);
  });

  it('does not repeat a state change, which is not safe to repeat', async () => {
    let attempts = 0;
    const client = await serve({
      async updateJobState() {
        attempts++;
        throw new JobkeepError('UNAVAILABLE', 'restarting');
      },
    });
    await expect(client.updateJobState({ nodeId: 'n', jobId: 'j-1', newState: JobState.RUNNING })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(attempts).toBe(1);
  });

  it('puts a deadline on every call', async () => {
    const client = await serve(
      { getJob: () => new Promise(() => undefined) },
      { defaultDeadlineMs: 200 },
    );
    const started = Date.now();
    await expect(client.getJob({ nodeId: 'n', key: { case: 'id', value: 'j-1' } })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
