import path from 'node:path';
import Database from 'better-sqlite3';
import { JobEventType, JobState, type Job } from '@jobkeep/api';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, useCoordinationClients } from './test-support/coordination-clients.js';
import { useServerProcesses, type ServerProcess } from './test-support/server-processes.js';
import { historyFrom } from './test-support/watch-helpers.js';

const NODE = 'requester-1';
const proof = (job: Job) => ({ leaseId: job.claim!.leaseId, token: job.claim!.token });

/**
 * Claimed jobs across crashes of real server processes: nothing claimed is lost or handed out
 * twice, and the claims of ended leases come back to their queues even when the server died
 * between a lease's end and the return of its claims.
 */
describe('claimed jobs across server crashes', () => {
  const processes = useServerProcesses();
  const clientsOf = useCoordinationClients();
  const jobClients: JobStoreClient[] = [];
  afterEach(() => {
    for (const client of jobClients.splice(0)) client.close();
  });

  const launch = (dataDir: string) =>
    processes.launch([], { JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: dataDir, JOBKEEP_LEASE_SWEEP_INTERVAL_MS: '100' });
  const connect = async (server: ServerProcess) => {
    const address = await server.address;
    const jobs = createJobStoreClient(address, { defaultDeadlineMs: 10_000 });
    jobClients.push(jobs);
    return { jobs, ...clientsOf(address) };
  };
  const crash = async (server: ServerProcess) => {
    server.child.kill('SIGKILL');
    await server.exited;
  };
  const jobsOf = async (client: JobStoreClient): Promise<Job[]> => {
    const all: Job[] = [];
    let pageToken = '';
    do {
      const page = await client.listJobs({ nodeId: NODE, pageSize: 1000, pageToken });
      all.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return all;
  };
  const claimAll = async (client: JobStoreClient, leaseId: bigint, count: number, worker: string) => {
    const claimed: Job[] = [];
    for (let i = 0; i < count; i++) claimed.push((await client.claimJob({ nodeId: NODE, queue: 'work', leaseId, worker })).job!);
    return claimed;
  };

  it('keeps claims through a SIGKILL, returns those of leases that end after the restart, and loses or doubles nothing', async () => {
    const dataDir = processes.tempDir();
    const first = launch(dataDir);
    const before = await connect(first);
    const retryPolicy = { maxRetries: 3, backoffMs: 100, maxBackoffMs: 100 };
    const { jobIds } = await before.jobs.createBatch({
      nodeId: NODE,
      batch: { id: 'crash' },
      jobs: Array.from({ length: 40 }, () => ({ queue: 'work', state: JobState.QUEUED, retryPolicy })),
    });
    const revoked = (await before.leases.grant({ ttlSeconds: 60n })).lease!.id;
    const survivor = (await before.leases.grant({ ttlSeconds: 60n })).lease!.id;
    const ofRevoked = await claimAll(before.jobs, revoked, 10, 'revoked');
    const ofSurvivor = await claimAll(before.jobs, survivor, 5, 'survivor');
    // Two of the revoked lease's jobs finish before the crash: they must stay finished.
    for (const job of ofRevoked.slice(0, 2)) {
      await before.jobs.updateJobState({ nodeId: NODE, jobId: job.id, newState: JobState.COMPLETED, claim: proof(job) });
    }
    // A lease of 2 s, granted last so that it outlives the few calls before the crash.
    const doomed = (await before.leases.grant({ ttlSeconds: 2n })).lease!.id;
    const ofDoomed = await claimAll(before.jobs, doomed, 5, 'doomed');
    await crash(first);

    const second = launch(dataDir);
    const after = await connect(second);
    // Every lease survived with a fresh TTL, so every unfinished claim is still held.
    for (const job of [...ofRevoked.slice(2), ...ofSurvivor, ...ofDoomed]) {
      const { job: stored } = await after.jobs.getJob({ nodeId: NODE, key: { case: 'id', value: job.id } });
      expect(stored).toMatchObject({ state: JobState.RUNNING, claim: { leaseId: job.claim!.leaseId, token: job.claim!.token } });
    }
    await after.leases.revoke({ leaseId: revoked });
    // The doomed lease is not kept alive: it expires 2 s after the restart.
    const returned = [...ofRevoked.slice(2), ...ofDoomed];
    await eventually(async () => {
      const jobs = await jobsOf(after.jobs);
      return returned.every((job) => jobs.find((stored) => stored.id === job.id)!.state === JobState.QUEUED);
    }, 15_000);
    for (const job of returned) {
      const { job: stored } = await after.jobs.getJob({ nodeId: NODE, key: { case: 'id', value: job.id } });
      expect(stored).toMatchObject({ state: JobState.QUEUED, retryCount: 1, queue: 'work' });
      expect(stored!.claim).toBeUndefined();
    }
    // The survivor still holds its jobs, and finishes them with the claims it had before the crash.
    for (const job of ofSurvivor) {
      const { job: done } = await after.jobs.updateJobState({ nodeId: NODE, jobId: job.id, newState: JobState.COMPLETED, claim: proof(job) });
      expect(done).toMatchObject({ state: JobState.COMPLETED, retryCount: 0 });
    }

    // Drain the rest: every job not finished yet is handed out exactly once more.
    const drainer = (await after.leases.grant({ ttlSeconds: 60n })).lease!.id;
    const drained: Job[] = [];
    await eventually(async () => {
      for (;;) {
        const { job } = await after.jobs.claimJob({ nodeId: NODE, queue: 'work', leaseId: drainer, worker: 'drainer' });
        if (job === undefined) break;
        drained.push(job);
        await after.jobs.updateJobState({ nodeId: NODE, jobId: job.id, newState: JobState.COMPLETED, claim: proof(job) });
      }
      return drained.length >= 40 - 2 - ofSurvivor.length;
    });
    const finishedBefore = [...ofRevoked.slice(0, 2), ...ofSurvivor].map((job) => job.id);
    expect(drained.map((job) => job.id).sort()).toEqual(jobIds.filter((id) => !finishedBefore.includes(id)).sort());
    const final = await jobsOf(after.jobs);
    expect(final).toHaveLength(40);
    expect(final.every((job) => job.state === JobState.COMPLETED)).toBe(true);
    expect((await after.jobs.getBatch({ nodeId: NODE, batchId: 'crash' })).batch).toMatchObject({ completed: true, total: 40n });
    // Each job was claimed once per attempt and completed once.
    const history = await historyFrom(after.jobs, NODE);
    for (const id of jobIds) {
      const completions = history.filter((event) => event.jobId === id && event.newState === JobState.COMPLETED);
      expect(completions).toHaveLength(1);
    }
    expect(history.filter((event) => event.type === JobEventType.BATCH_COMPLETED)).toHaveLength(1);
  });

  it('returns at start the claims of a lease that ended just before a crash', async () => {
    const dataDir = processes.tempDir();
    const first = launch(dataDir);
    const before = await connect(first);
    await before.jobs.createBatch({ nodeId: NODE, jobs: Array.from({ length: 10 }, () => ({ queue: 'work', state: JobState.QUEUED })) });
    const leaseId = (await before.leases.grant({ ttlSeconds: 60n })).lease!.id;
    const claimed = await claimAll(before.jobs, leaseId, 6, 'crashed');
    const finished = claimed[0]!;
    await before.jobs.updateJobState({ nodeId: NODE, jobId: finished.id, newState: JobState.COMPLETED, claim: proof(finished) });
    await crash(first);

    // The crash came right after the lease's end committed: its row is gone, its note of claims is not.
    const coordination = new Database(path.join(dataDir, 'coordination.db'));
    try {
      expect(coordination.prepare('SELECT lease_id, node_id FROM lease_claims').all()).toEqual([{ lease_id: Number(leaseId), node_id: NODE }]);
      expect(coordination.prepare('DELETE FROM leases WHERE id = ?').run(Number(leaseId)).changes).toBe(1);
    } finally {
      coordination.close();
    }

    const second = launch(dataDir);
    const after = await connect(second);
    const stillClaimed = claimed.slice(1);
    await eventually(async () => {
      const jobs = await jobsOf(after.jobs);
      return stillClaimed.every((job) => jobs.find((stored) => stored.id === job.id)!.state === JobState.QUEUED);
    });
    const logged = await second.waitFor('claims of ended leases returned to their queues');
    expect(logged.returned).toEqual([{ leaseId: Number(leaseId), nodeId: NODE, jobs: 5 }]);
    for (const job of stillClaimed) {
      const { job: stored } = await after.jobs.getJob({ nodeId: NODE, key: { case: 'id', value: job.id } });
      expect(stored).toMatchObject({ state: JobState.QUEUED, retryCount: 1, stateMessage: expect.stringMatching(`lease ${leaseId} of crashed ended`) });
      expect(stored!.claim).toBeUndefined();
    }
    const { job: done } = await after.jobs.getJob({ nodeId: NODE, key: { case: 'id', value: finished.id } });
    expect(done).toMatchObject({ state: JobState.COMPLETED, retryCount: 0 });
    // The note is gone once its work is done.
    const check = new Database(path.join(dataDir, 'coordination.db'), { readonly: true });
    try {
      expect(check.prepare('SELECT * FROM lease_claims').all()).toEqual([]);
    } finally {
      check.close();
    }
    // The lost claimer's late report is refused; the jobs are all there, once each.
    await expect(
      after.jobs.updateJobState({ nodeId: NODE, jobId: stillClaimed[0]!.id, newState: JobState.FAILED, claim: proof(stillClaimed[0]!) }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await jobsOf(after.jobs)).toHaveLength(10);
  });
});
