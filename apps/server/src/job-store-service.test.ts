import fs from 'node:fs';
import path from 'node:path';
import { JobOrder, JobState, SortDirection, JobEventType } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'requester-1';
describe('jobkeep.v1.JobStore over gRPC', () => {
  const servers = useTestServers();

  it('round-trips create, get, list, update, state change and delete', async () => {
    const { client } = await servers.start();
    const { job } = await client.createJob({
      nodeId: NODE,
      job: { name: 'render', namespace: 'media', labels: { team: 'vfx' }, queue: 'gpu', priority: 3, spec: { frames: [1, 2, 3], codec: 'av1' } },
    });
    expect(job).toMatchObject({ name: 'render', namespace: 'media', state: JobState.PENDING, version: 1n, spec: { frames: [1, 2, 3], codec: 'av1' } });
    expect(job!.createTime).toBeDefined();

    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).job).toEqual(job);
    expect((await client.getJob({ nodeId: NODE, key: { case: 'name', value: 'render' }, namespace: 'media' })).job).toEqual(job);
    expect((await client.listJobs({ nodeId: NODE })).jobs).toEqual([job]);

    const { job: updated } = await client.updateJob({
      nodeId: NODE,
      job: { id: job!.id, spec: { frames: [4] }, queue: 'cpu' },
      updateMask: { paths: ['spec', 'queue'] },
      expectedRevision: job!.revision,
    });
    expect(updated).toMatchObject({ version: 2n, queue: 'cpu', spec: { frames: [4] }, labels: { team: 'vfx' } });

    const { job: cancelled } = await client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.CANCELLED, message: 'superseded' });
    expect(cancelled).toMatchObject({ state: JobState.CANCELLED, stateMessage: 'superseded' });
    const { revision } = await client.deleteJob({ nodeId: NODE, jobId: job!.id, expectedRevision: cancelled!.revision });
    expect(revision).toBeGreaterThan(cancelled!.revision);
    await expect(client.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).rejects.toEqual(failsWith('NOT_FOUND', job!.id));
  });

  it('returns the first job to a create retried with the same request_id', async () => {
    const { client } = await servers.start();
    const first = await client.createJob({ nodeId: NODE, job: { name: 'once' }, requestId: 'create-7' });
    const retried = await client.createJob({ nodeId: NODE, job: { name: 'once' }, requestId: 'create-7' });
    expect(retried.job).toEqual(first.job);
    expect((await client.listJobs({ nodeId: NODE })).jobs).toHaveLength(1);
  });

  it('gets a job by unique id prefix and calls an ambiguous prefix an error', async () => {
    const { client } = await servers.start();
    await client.createJob({ nodeId: NODE, job: { id: 'build-100' } });
    await client.createJob({ nodeId: NODE, job: { id: 'build-200' } });
    expect((await client.getJob({ nodeId: NODE, key: { case: 'idPrefix', value: 'build-1' } })).job?.id).toBe('build-100');
    await expect(client.getJob({ nodeId: NODE, key: { case: 'idPrefix', value: 'build' } })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'ambiguous', 'build-100', 'build-200'),
    );
    await expect(client.getJob({ nodeId: NODE })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'id, id_prefix or name'));
  });

  it('answers a stale revision or an unexpected state with FAILED_PRECONDITION naming the current ones', async () => {
    const { client } = await servers.start();
    const { job } = await client.createJob({ nodeId: NODE, job: { state: JobState.QUEUED } });
    const { job: running } = await client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.RUNNING, expectedStates: [JobState.QUEUED] });

    await expect(
      client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.COMPLETED, expectedRevision: job!.revision }),
    ).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'RUNNING', `revision ${running!.revision}`));
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.COMPLETED, expectedStates: [JobState.QUEUED] }),
    ).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'RUNNING', `revision ${running!.revision}`));
    await expect(client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.PENDING })).rejects.toEqual(
      failsWith('FAILED_PRECONDITION', 'RUNNING to PENDING'),
    );

    const { job: done } = await client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.COMPLETED });
    for (const newState of [JobState.RUNNING, JobState.FAILED, JobState.QUEUED]) {
      await expect(client.updateJobState({ nodeId: NODE, jobId: job!.id, newState })).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'terminal'));
    }
    await expect(
      client.updateJob({ nodeId: NODE, job: { id: job!.id, priority: 1 }, updateMask: { paths: ['priority'] } }),
    ).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'terminal'));
    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).job).toEqual(done);
  });

  it('records every change in the history, in order, with revisions', async () => {
    const { client } = await servers.start();
    const { job } = await client.createJob({ nodeId: NODE, job: {} });
    const { execution } = await client.createExecution({ nodeId: NODE, execution: { jobId: job!.id, computeNodeId: 'compute-1' } });
    const { job: running } = await client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.RUNNING, executionId: execution!.id });
    const { events } = await client.getJobHistory({ nodeId: NODE, jobId: job!.id });
    expect(events.map((event) => [event.type, event.revision, event.executionId])).toEqual([
      [JobEventType.JOB_CREATED, job!.revision, ''],
      [JobEventType.EXECUTION_CREATED, execution!.revision, execution!.id],
      [JobEventType.JOB_STATE_CHANGED, running!.revision, execution!.id],
    ]);
    expect(events[2]).toMatchObject({ previousState: JobState.PENDING, newState: JobState.RUNNING });
    const fromRevision = await client.getJobHistory({ nodeId: NODE, fromRevision: execution!.revision });
    expect(fromRevision.events.map((event) => event.revision)).toEqual([execution!.revision, running!.revision]);
    const perExecution = await client.getJobHistory({ nodeId: NODE, jobId: job!.id, executionId: execution!.id });
    expect(perExecution.events).toHaveLength(2);
  });

  it('lists 1,000 jobs by every filter and order, in pages that neither skip nor repeat', async () => {
    const { client } = await servers.start();
    const states = [JobState.PENDING, JobState.QUEUED, JobState.HELD];
    for (let i = 0; i < 1000; i++) {
      await client.createJob({
        nodeId: NODE,
        job: { state: states[i % 3], labels: { shard: `s${i % 4}` }, queue: `q${i % 5}`, namespace: i % 2 ? 'odd' : 'even', batchId: `b${i % 7}` },
      });
    }
    const listAll = async (request: Parameters<typeof client.listJobs>[0]) => {
      const ids: string[] = [];
      let pageToken = '';
      do {
        const page = await client.listJobs({ ...request, pageSize: 128, pageToken });
        ids.push(...page.jobs.map((job) => job.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return ids;
    };
    const everything = await listAll({ nodeId: NODE });
    expect(new Set(everything).size).toBe(1000);
    expect(await listAll({ nodeId: NODE, orderBy: JobOrder.CREATE_TIME, direction: SortDirection.DESCENDING })).toEqual([...everything].reverse());
    expect(await listAll({ nodeId: NODE, states: [JobState.HELD] })).toHaveLength(333);
    expect(await listAll({ nodeId: NODE, labelSelector: { shard: 's1' } })).toHaveLength(250);
    expect(await listAll({ nodeId: NODE, queue: 'q2' })).toHaveLength(200);
    expect(await listAll({ nodeId: NODE, namespace: 'odd', orderBy: JobOrder.MODIFY_TIME })).toHaveLength(500);
    expect(await listAll({ nodeId: NODE, batchId: 'b0', states: [JobState.PENDING] })).toHaveLength(48);
    const recent = await listAll({ nodeId: NODE, createdAfter: { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 } });
    expect(recent).toEqual([]);
  });

  it('refuses bad node ids with INVALID_ARGUMENT and creates no file; unknown nodes are NOT_FOUND', async () => {
    const { client, dataDir } = await servers.start();
    const before = fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort();
    for (const nodeId of ['../x', 'a/b', '', 'n'.repeat(200)]) {
      await expect(client.createJob({ nodeId, job: {} })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node_id'));
      await expect(client.listJobs({ nodeId })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node_id'));
    }
    await expect(client.listJobs({ nodeId: 'never-seen' })).rejects.toEqual(failsWith('NOT_FOUND', 'never-seen'));
    await expect(client.getJob({ nodeId: 'never-seen', key: { case: 'id', value: 'j-1' } })).rejects.toEqual(failsWith('NOT_FOUND'));
    expect(fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort()).toEqual(before);
  });

  it('refuses malformed requests with INVALID_ARGUMENT and changes nothing', async () => {
    const { client } = await servers.start();
    const { job } = await client.createJob({ nodeId: NODE, job: {} });
    const before = await client.getJobHistory({ nodeId: NODE });
    await expect(client.createJob({ nodeId: NODE })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'job is required'));
    await expect(client.createJob({ nodeId: NODE, job: { state: 42 as JobState } })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'job.state'));
    await expect(client.updateJob({ nodeId: NODE, job: { id: job!.id } })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'update_mask'));
    await expect(
      client.updateJob({ nodeId: NODE, job: { id: job!.id }, updateMask: { paths: ['state'] } }),
    ).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'update_mask', 'state'));
    await expect(client.updateJobState({ nodeId: NODE, jobId: job!.id })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'new_state'));
    await expect(client.listJobs({ nodeId: NODE, pageSize: -1 })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'page_size'));
    expect(await client.getJobHistory({ nodeId: NODE })).toEqual(before);
  });

  it('keeps data across a server restart', async () => {
    const first = await servers.start();
    const { job } = await first.client.createJob({ nodeId: NODE, job: { name: 'survivor', spec: { keep: true } } });
    first.client.close();
    await first.server.shutdown();
    const second = await servers.start({ dataDir: first.dataDir });
    expect((await second.client.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).job).toEqual(job);
  });
});
