import Database from 'better-sqlite3';
import { JobState } from '@jobkeep/api';
import { openStorage } from '@jobkeep/store';
import { describe, expect, it } from 'vitest';
import { failsWith } from './test-support/fails-with.js';
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
