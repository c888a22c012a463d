import { DatabaseLifecycle, JobState } from '@jobkeep/api';
import { parseRetentionSetting } from '@jobkeep/store';
import { describe, expect, it } from 'vitest';
import { DRAIN_PROGRESS_INTERVAL_MS } from './admin-service.js';
import { collect, useAdminServers, type AdminClient } from './test-support/admin-clients.js';
import { failsWith } from './test-support/fails-with.js';

const SOURCE = 'old-director';
const TARGET = 'new-director';

const lifecycleOf = async (admin: AdminClient, name: string) =>
  (await admin.listDatabases({})).databases.find((info) => info.name === name)?.lifecycle;

describe('jobkeep.v1.AdminService over gRPC: retention, drain and retire', () => {
  const servers = useAdminServers();

  it('drains every live job to the target with progress, then retires the source, which refuses new jobs', async () => {
    const { admin, client, server } = await servers.start();
    const { jobIds } = await server.storage.batches.createBatch(SOURCE, {
      jobs: Array.from({ length: 400 }, (_, index) => ({ name: `job-${index}`, spec: { index } })),
    });
    const ended = jobIds.slice(0, 5);
    for (const jobId of ended) await server.storage.jobStore.updateJobState(SOURCE, { jobId, newState: 'CANCELLED' });
    const live = jobIds.slice(5);
    await client.createJob({ nodeId: TARGET, job: { name: 'already-there' } });

    const startedAt = Date.now();
    const messages = await collect(admin.drainNode({ sourceNodeId: SOURCE, targetNodeId: TARGET }));
    const elapsedMs = Date.now() - startedAt;

    const last = messages.at(-1)!;
    expect(last).toMatchObject({ moved: BigInt(live.length), total: BigInt(live.length), retired: true });
    const progress = messages.slice(0, -1);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((message) => !message.retired && message.total === BigInt(live.length))).toBe(true);
    const moved = messages.map((message) => message.moved);
    expect(moved).toEqual([...moved].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    // Throttled: at most one progress message per interval, however many jobs moved.
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / DRAIN_PROGRESS_INTERVAL_MS) + 1);

    for (const jobId of [live[0]!, live.at(-1)!]) {
      expect((await client.getJob({ nodeId: TARGET, key: { case: 'id', value: jobId } })).job).toMatchObject({ id: jobId, state: JobState.PENDING });
    }
    expect((await client.listJobs({ nodeId: TARGET, pageSize: 1000 })).jobs).toHaveLength(live.length + 1);
    expect(await lifecycleOf(admin, `${SOURCE}-requester`)).toBe(DatabaseLifecycle.RETIRED);
    await expect(client.createJob({ nodeId: SOURCE, job: { name: 'late' } })).rejects.toEqual(failsWith('FAILED_PRECONDITION', SOURCE, 'RETIRED'));
    expect((await admin.checkDatabase({ database: `${TARGET}-requester` })).problems).toEqual([]);
    expect((await admin.checkDatabase({ database: `${SOURCE}-requester` })).problems).toEqual([]);

    // Running it again finds nothing to move.
    expect((await collect(admin.drainNode({ sourceNodeId: SOURCE, targetNodeId: TARGET }))).at(-1)).toMatchObject({ moved: 0n, retired: true });
  });

  it('refuses a drain of a node into itself or from a node without a database', async () => {
    const { admin } = await servers.start();
    await expect(collect(admin.drainNode({ sourceNodeId: SOURCE, targetNodeId: SOURCE }))).rejects.toEqual(failsWith('INVALID_ARGUMENT', SOURCE));
    await expect(collect(admin.drainNode({ sourceNodeId: 'nobody', targetNodeId: TARGET }))).rejects.toEqual(failsWith('NOT_FOUND', 'nobody'));
  });

  it('refuses to retire a node while a job is QUEUED, and retires it once the job has ended', async () => {
    const { admin, client } = await servers.start();
    const { job } = await client.createJob({ nodeId: SOURCE, job: { name: 'waiting', queue: 'gpu' } });
    const { job: queued } = await client.updateJobState({ nodeId: SOURCE, jobId: job!.id, newState: JobState.QUEUED });
    expect(queued!.state).toBe(JobState.QUEUED);

    await expect(admin.retireNode({ nodeId: SOURCE })).rejects.toEqual(failsWith('FAILED_PRECONDITION', SOURCE, '1 QUEUED jobs'));
    expect(await lifecycleOf(admin, `${SOURCE}-requester`)).toBe(DatabaseLifecycle.ACTIVE);

    await client.updateJobState({ nodeId: SOURCE, jobId: job!.id, newState: JobState.CANCELLED });
    const { databases } = await admin.retireNode({ nodeId: SOURCE });
    expect(databases).toEqual([expect.objectContaining({ name: `${SOURCE}-requester`, lifecycle: DatabaseLifecycle.RETIRED, exists: true })]);
    await expect(admin.retireNode({ nodeId: 'nobody' })).rejects.toEqual(failsWith('NOT_FOUND', 'nobody'));
  });

  it('reports what retention would delete on a dry run, then deletes it', async () => {
    const { admin, client } = await servers.start({ jobRetention: parseRetentionSetting('job', 'CANCELLED=delete:1ms') });
    const database = `${SOURCE}-requester`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { job } = await client.createJob({ nodeId: SOURCE, job: { name: `done-${i}` } });
      await client.updateJobState({ nodeId: SOURCE, jobId: job!.id, newState: JobState.CANCELLED });
      ids.push(job!.id);
    }
    await client.createJob({ nodeId: SOURCE, job: { name: 'live' } });
    // A batch whose one job is cancelled: empty once retention deletes that job, and removed with it.
    const { batch, jobIds } = await client.createBatch({ nodeId: SOURCE, jobs: [{ name: 'batched' }] });
    await client.updateJobState({ nodeId: SOURCE, jobId: jobIds[0]!, newState: JobState.CANCELLED });
    await new Promise((resolve) => setTimeout(resolve, 5));

    const dry = await admin.runRetention({ database, dryRun: true });
    expect(dry.outcomes).toEqual([expect.objectContaining({ database, deleted: { CANCELLED: 4n }, batchesDeleted: 1n })]);
    expect((await client.listJobs({ nodeId: SOURCE })).jobs).toHaveLength(5);
    expect((await client.getBatch({ nodeId: SOURCE, batchId: batch!.id })).batch?.id).toBe(batch!.id);

    const { outcomes } = await admin.runRetention({ database: '', dryRun: false });
    expect(outcomes).toEqual([expect.objectContaining({ database, deleted: { CANCELLED: 4n }, batchesDeleted: 1n })]);
    await expect(client.getBatch({ nodeId: SOURCE, batchId: batch!.id })).rejects.toEqual(failsWith('NOT_FOUND', batch!.id));
    expect(outcomes[0]!.historyRowsRemoved).toBeGreaterThan(0n);
    expect((await client.listJobs({ nodeId: SOURCE })).jobs.map((job) => job.name)).toEqual(['live']);
    await expect(admin.runRetention({ database: 'coordination', dryRun: true })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'coordination'));
  });
});
