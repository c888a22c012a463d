import path from 'node:path';
import Database from 'better-sqlite3';
import { AdminService, JobState, createTypedClient } from '@jobkeep/api';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { openStorage } from '@jobkeep/store';
import { describe, expect, it } from 'vitest';
import { failsWith } from './test-support/fails-with.js';
import { useServerProcesses } from './test-support/server-processes.js';
import { useTestServers } from './test-support/test-server.js';

const SOURCE = 'old-director';
const TARGET = 'new-director';

describe('a server started after a drain was killed mid-way', () => {
  const servers = useTestServers();

  it('finishes the frozen moves before serving: copied jobs answer from the target, the source refuses none', async () => {
    // A data directory of the test servers', then left to the store alone.
    const first = await servers.start();
    const { dataDir } = first;
    await first.stop();
    // A drain that died after its copy committed on the target, before the removal from the
    // source: as it leaves the files, every job of the group frozen on the source.
    const storage = openStorage({ dataDir });
    const { jobIds } = await storage.batches.createBatch(SOURCE, { jobs: Array.from({ length: 5 }, () => ({ state: 'QUEUED' as const })) });
    const raw = new Database(storage.locations.nodeDatabasePath('requester', SOURCE));
    raw.exec(`CREATE TRIGGER crash BEFORE INSERT ON job_history WHEN new.type = 'JOB_MOVED_OUT' BEGIN SELECT RAISE(ABORT, 'crash'); END`);
    await expect(storage.admin.drainNode(SOURCE, TARGET)).rejects.toThrow('crash');
    raw.exec('DROP TRIGGER crash');
    raw.close();
    await expect(storage.jobStore.updateJobState(SOURCE, { jobId: jobIds[0]!, newState: 'CANCELLED' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    storage.close();

    const { client, logged } = await servers.start({ dataDir });
    expect(await logged('finished the moves of an interrupted drain; run the drain again to move the jobs it had not reached')).toMatchObject({
      sourceNodeId: SOURCE,
      jobs: jobIds.length,
    });
    for (const jobId of jobIds) {
      await expect(client.getJob({ nodeId: SOURCE, key: { case: 'id', value: jobId } })).rejects.toEqual(failsWith('NOT_FOUND', `moved it to node ${TARGET}`));
      expect((await client.updateJobState({ nodeId: TARGET, jobId, newState: JobState.CANCELLED })).job?.state).toBe(JobState.CANCELLED);
    }
  });
});

describe('a server killed while it drains', () => {
  const processes = useServerProcesses();
  const FINISHED = 'finished the moves of an interrupted drain; run the drain again to move the jobs it had not reached';

  /** Every job id of `node`, in any state. */
  async function jobIdsOf(client: JobStoreClient, node: string): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = '';
    do {
      const page = await client.listJobs({ nodeId: node, pageSize: 1000, pageToken });
      ids.push(...page.jobs.map((job) => job.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return ids;
  }

  it('starts again with none of the jobs it froze refusing changes, each job in one place', { timeout: 120_000 }, async () => {
    const dataDir = processes.tempDir();
    const launch = () => processes.launch([], { JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: dataDir });
    const frozenOnSource = (): string[] => {
      const db = new Database(path.join(dataDir, `${SOURCE}-requester.db`), { readonly: true });
      try {
        return db.prepare(`SELECT job_id FROM job_moves WHERE direction = 'out' AND done = 0`).pluck().all() as string[];
      } finally {
        db.close();
      }
    };
    let server = launch();
    let client = createJobStoreClient(await server.address, { defaultDeadlineMs: 10_000 });
    const seeded: string[] = [];
    // Batches of 50: a drain moves a batch's live jobs in one group, so these make groups of 100.
    for (let i = 0; i < 60; i++) seeded.push(...(await client.createBatch({ nodeId: SOURCE, jobs: Array.from({ length: 50 }, () => ({ state: JobState.QUEUED })) })).jobIds);

    // Killed at a random instant of its first 30 ms, until a kill lands with a group frozen: about
    // half do (a group is frozen from its first commit to its third; the drain's 30 groups take
    // longer than 30 ms, and each attempt moves a few of them).
    let frozen: string[] = [];
    for (let attempt = 0; attempt < 12 && frozen.length === 0; attempt++) {
      const admin = createTypedClient(AdminService, await server.address, { defaultDeadlineMs: 60_000 });
      // The first message says how many jobs it found: the drain is under way.
      for await (const _progress of admin.drainNode({ sourceNodeId: SOURCE, targetNodeId: TARGET })) break;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 25));
      server.child.kill('SIGKILL');
      await server.exited;
      admin.close();
      client.close();
      frozen = frozenOnSource();
      server = launch();
      client = createJobStoreClient(await server.address, { defaultDeadlineMs: 10_000 });
    }
    expect(frozen.length).toBeGreaterThan(0);
    expect(await server.waitFor(FINISHED)).toMatchObject({ sourceNodeId: SOURCE, jobs: frozen.length });
    expect(frozenOnSource()).toEqual([]);

    const onSource = await jobIdsOf(client, SOURCE);
    const onTarget = await jobIdsOf(client, TARGET);
    const targetIds = new Set(onTarget);
    expect(onSource.filter((id) => targetIds.has(id))).toEqual([]);
    expect([...onSource, ...onTarget].sort()).toEqual([...seeded].sort());
    // Each job the kill left frozen takes changes again, where it now is.
    for (const jobId of frozen) {
      const node = targetIds.has(jobId) ? TARGET : SOURCE;
      expect((await client.updateJobState({ nodeId: node, jobId, newState: JobState.HELD })).job?.state).toBe(JobState.HELD);
    }
    client.close();
  });
});

