import fs from 'node:fs';
import { CheckpointStore, ExecutionStore, JobState, LeaseService, LockService, NodeDatabaseKind, NodeRegistry, createTypedClient } from '@jobkeep/api';
import type { DescService } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { failsWith } from './test-support/fails-with.js';
import { requestQueue } from './test-support/lock-holders.js';
import { useTestServers } from './test-support/test-server.js';

const NODE = 'requester-1';
/** A spec whose JSON is exactly `bytes` long: {"x":"..."} is 8 bytes around the padding. */
const specOf = (bytes: number) => ({ x: 'a'.repeat(bytes - 8) });
const labelsOf = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 'v']));

describe('request limits over gRPC', () => {
  const servers = useTestServers();
  const opened: { close(): void }[] = [];
  afterEach(() => {
    for (const client of opened.splice(0)) client.close();
  });
  const clientOf = <S extends DescService>(service: S, address: string) => {
    const client = createTypedClient(service, address, { defaultDeadlineMs: 10_000 });
    opened.push(client);
    return client;
  };

  it('refuses a bad field with INVALID_ARGUMENT naming it by its path, and changes nothing', async () => {
    const { client, dataDir } = await servers.start();
    const { job } = await client.createJob({ nodeId: NODE, job: { name: 'kept', labels: { team: 'data' } } });
    const files = fs.readdirSync(dataDir).sort();

    await expect(client.createJob({ nodeId: NODE, job: { labels: labelsOf(65) } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.labels: a job has at most 64 labels, not 65'),
    );
    await expect(client.createJob({ nodeId: 'requester-2', job: { labels: { k: 'v'.repeat(257) } } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.labels: label k has a value of 257 characters; the limit is 256'),
    );
    await expect(client.updateJob({ nodeId: NODE, job: { id: job!.id, name: 'n'.repeat(129) }, updateMask: { paths: ['name'] } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.name is 129 characters long; the limit is 128'),
    );
    await expect(client.createBatch({ nodeId: NODE, jobs: [{}, { state: JobState.COMPLETED }] })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'jobs[1].state must be one of PENDING, QUEUED, HELD, not COMPLETED'),
    );

    expect(fs.readdirSync(dataDir).sort()).toEqual(files);
    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).job).toEqual(job);
    expect((await client.getJobHistory({ nodeId: NODE })).events).toHaveLength(1);
  });

  it('checks every message of a stream: a bad one ends the call after the good ones before it', async () => {
    const { server } = await servers.start();
    const leases = clientOf(LeaseService, server.address);
    const { lease } = await leases.grant({ ttlSeconds: 60n });
    const { requests, send } = requestQueue<{ leaseId: bigint }>();
    const responses = leases.keepAlive(requests)[Symbol.asyncIterator]();
    send({ leaseId: lease!.id });
    expect((await responses.next()).value).toMatchObject({ leaseId: lease!.id, ttlSeconds: 60n });
    send({ leaseId: 0n });
    await expect(responses.next()).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'lease_id is required: a lease id from Grant'));
  });

  it('takes specs and checkpoint data up to --max-spec-bytes and --max-blob-bytes, and refuses more', async () => {
    const { client, server } = await servers.start({ maxSpecBytes: 1000, maxBlobBytes: 2000 });
    const executions = clientOf(ExecutionStore, server.address);
    const checkpoints = clientOf(CheckpointStore, server.address);
    const { job } = await client.createJob({ nodeId: NODE, job: { spec: specOf(1000) } });
    await executions.createExecution({ nodeId: 'compute-1', execution: { jobId: job!.id, requesterNodeId: NODE, jobSpec: specOf(1000) } });
    const put = { nodeId: 'compute-1', kind: NodeDatabaseKind.COMPUTE, name: 'state' };
    await checkpoints.putCheckpoint({ ...put, data: new Uint8Array(2000) });

    await expect(client.createJob({ nodeId: NODE, job: { spec: specOf(1001) } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.spec is 1001 bytes as JSON; the limit is 1000'),
    );
    await expect(client.updateJob({ nodeId: NODE, job: { id: job!.id, spec: specOf(1001) }, updateMask: { paths: ['spec'] } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.spec is 1001 bytes as JSON; the limit is 1000'),
    );
    await expect(client.createBatch({ nodeId: NODE, jobs: [{}, { spec: specOf(1001) }] })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'jobs[1].spec is 1001 bytes as JSON; the limit is 1000'),
    );
    await expect(
      executions.createExecution({ nodeId: 'compute-1', execution: { jobId: job!.id, requesterNodeId: NODE, jobSpec: specOf(1001) } }),
    ).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'execution.job_spec is 1001 bytes as JSON; the limit is 1000'));
    await expect(checkpoints.putCheckpoint({ ...put, data: new Uint8Array(2001) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'data is 2001 bytes; the limit is 2000'),
    );
    expect((await checkpoints.getCheckpoint(put)).checkpoint!.data).toHaveLength(2000);
  });

  it('takes a spec of 1 MiB by default, and refuses one byte more', async () => {
    const { client } = await servers.start();
    await client.createJob({ nodeId: NODE, job: { spec: specOf(1024 * 1024) } });
    await expect(client.createJob({ nodeId: NODE, job: { spec: specOf(1024 * 1024 + 1) } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'job.spec is 1048577 bytes as JSON; the limit is 1048576'),
    );
  });

  it('refuses a request larger than --max-message-bytes with RESOURCE_EXHAUSTED, from grpc-js itself', async () => {
    const { client } = await servers.start({ maxMessageBytes: 4096, maxSpecBytes: 2048 });
    await client.createJob({ nodeId: NODE, job: { spec: specOf(2048) } });
    await expect(client.createJob({ nodeId: NODE, job: { stateMessage: 'm'.repeat(4096) } })).rejects.toEqual(
      failsWith('RESOURCE_EXHAUSTED', 'larger than max', '4096'),
    );
  });

  it('bounds every page at 1000, every name, and every repeated field', async () => {
    const { client, server } = await servers.start();
    const locks = clientOf(LockService, server.address);
    const nodes = clientOf(NodeRegistry, server.address);
    const checkpoints = clientOf(CheckpointStore, server.address);
    const leases = clientOf(LeaseService, server.address);
    const pageRefused = failsWith('INVALID_ARGUMENT', 'page_size must be between 1 and 1000, not 1001');
    await expect(client.listJobs({ nodeId: NODE, pageSize: 1001 })).rejects.toEqual(pageRefused);
    await expect(locks.list({ pageSize: 1001 })).rejects.toEqual(pageRefused);
    await expect(nodes.list({ pageSize: 1001 })).rejects.toEqual(pageRefused);
    await expect(leases.list({ pageSize: 1001 })).rejects.toEqual(pageRefused);
    await expect(client.listJobs({ nodeId: NODE, pageToken: 'x'.repeat(1025) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'page_token is 1025 characters long; the limit is 1024'),
    );

    await expect(client.listJobs({ nodeId: 'n'.repeat(129) })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node_id is 129 characters long; the limit is 128'));
    await expect(locks.get({ name: `/${'n'.repeat(512)}` })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'name is 513 characters long; the limit is 512'));
    await expect(checkpoints.getCheckpoint({ nodeId: NODE, kind: NodeDatabaseKind.REQUESTER, name: 'n'.repeat(257) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'name is 257 characters long; the limit is 256'),
    );
    await expect(client.holdQueue({ nodeId: NODE, queue: 'q', message: 'm'.repeat(4097) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'message is 4097 characters long; the limit is 4096'),
    );

    await expect(client.listJobs({ nodeId: NODE, states: [1, 2, 3, 4, 5, 6, 7, 1] })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'states holds at most 7 values, not 8'),
    );
    await expect(client.createBatch({ nodeId: NODE, jobs: Array.from({ length: 10_001 }, () => ({})) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'jobs holds at most 10000 values, not 10001: add more jobs to the batch with CreateJob and its batch_id'),
    );
    expect(fs.existsSync(`${server.storage.locations.dataDir}/${NODE}-requester.db`)).toBe(false);
  });
});
