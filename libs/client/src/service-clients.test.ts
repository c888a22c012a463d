import { ExecutionStore, JobState, JobStore, type ServiceHandlers } from '@jobkeep/api';
import { JobkeepError } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { createExecutionStoreClient, createJobStoreClient, type JobStoreClient } from './index.js';
import { useScriptedServers } from './test-support/scripted-servers.js';

/*
 * The client's own behaviour (request ids, retries, deadlines) is checked against a real gRPC
 * server whose handlers record what arrives and fail on purpose; the store itself is exercised
 * through the real server in apps/server's tests.
 */
describe('createJobStoreClient', () => {
  const serveWith = useScriptedServers();

  const serve = (handlers: ServiceHandlers<typeof JobStore>, clientOptions = {}): Promise<JobStoreClient> =>
    serveWith(JobStore, handlers, (target) => createJobStoreClient(target, clientOptions));

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
    await new Promise((resolve) => setTimeout(resolve, 2));
    await client.createJob({ nodeId: 'n', job: {} });
    // Time-ordered (UUID version 7), so that the server's index of request ids grows at its end.
    expect(seen[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seen[1]).toBe('mine');
    expect(seen[2]! > seen[0]!).toBe(true);
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

  it('retries a batch create refused with UNAVAILABLE, with the same request id', async () => {
    const seen: string[] = [];
    const client = await serve({
      async createBatch(request) {
        seen.push(request.requestId);
        if (seen.length === 1) throw new JobkeepError('UNAVAILABLE', 'restarting');
        return { batch: { id: 'b-1' }, jobIds: ['j-1'] };
      },
    });
    const { batch } = await client.createBatch({ nodeId: 'n', jobs: [{}] });
    expect(batch?.id).toBe('b-1');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]).toBe(seen[0]);
  });

  it('never repeats a claim, whose lost reply would leave a second job claimed', async () => {
    let attempts = 0;
    const client = await serve({
      async claimJob() {
        attempts++;
        throw new JobkeepError('UNAVAILABLE', 'restarting');
      },
    });
    await expect(client.claimJob({ nodeId: 'n', queue: 'q', leaseId: 1n })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(attempts).toBe(1);
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

  it('gives executions created through the ExecutionStore client a request id and retries them alike', async () => {
    const seen: string[] = [];
    const client = await serveWith(
      ExecutionStore,
      {
        async createExecution(request) {
          seen.push(request.requestId);
          if (seen.length === 1) throw new JobkeepError('UNAVAILABLE', 'restarting');
          return { execution: { id: 'e-1' } };
        },
      },
      (target) => createExecutionStoreClient(target),
    );
    expect((await client.createExecution({ nodeId: 'c', execution: { jobId: 'j-1', requesterNodeId: 'r' } })).execution?.id).toBe('e-1');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]).toBe(seen[0]);
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
