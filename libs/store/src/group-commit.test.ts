import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import type { Lease } from './lease-store.js';
import { useTempStorage } from './test-support/temp-storage.js';
import { walCommits } from './test-support/wal-commits.js';

const NODE = 'node-1';

describe('group commit through the stores', () => {
  const temp = useTempStorage();

  it('commits 64 concurrent creates to one database in three transactions (32, 16, 16); a create that fails fails alone and leaves no trace', async () => {
    const storage = temp.open();
    await storage.jobStore.createJob(NODE, { name: 'taken' });
    const file = storage.locations.nodeDatabasePath('requester', NODE);
    const before = walCommits(file);

    const outcomes = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) => storage.jobStore.createJob(NODE, { name: i === 20 ? 'taken' : `job-${i}`, labels: { i: String(i) } })),
    );
    expect(walCommits(file) - before).toBe(3);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([
      { status: 'rejected', reason: expect.objectContaining({ code: 'ALREADY_EXISTS' }) },
    ]);
    // Every other create has its own revision and history row, in the order the calls came.
    const created = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.job] : []));
    expect(created.map((job) => job.name)).toEqual(Array.from({ length: 64 }, (_, i) => `job-${i}`).filter((name) => name !== 'job-20'));
    const history = await storage.jobStore.getJobHistory(NODE, { pageSize: 100 });
    expect(history.items.map((event) => event.revision)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect((await storage.jobStore.listJobs(NODE, { pageSize: 100 })).items).toHaveLength(64);
  });

  it('undoes alone a write refused after it changed rows (a change to a job a drain is moving), in one transaction with the others', async () => {
    const storage = temp.open();
    const [frozen, other] = await Promise.all([storage.jobStore.createJob(NODE, { state: 'QUEUED' }), storage.jobStore.createJob(NODE, { state: 'QUEUED' })]);
    const file = storage.locations.nodeDatabasePath('requester', NODE);
    // As a drain leaves a job it is copying: any change to it is refused by the schema's trigger,
    // after the change's history row was written.
    const raw = new Database(file);
    raw.prepare(`INSERT INTO job_moves (job_id, direction, node_id, batch_id, done, time) VALUES (?, 'out', 'node-2', '', 0, 0)`).run(frozen.job.id);
    raw.close();
    const before = walCommits(file);
    const historyBefore = (await storage.jobStore.getJobHistory(NODE, {})).items;

    const outcomes = await Promise.allSettled([
      storage.jobStore.createJob(NODE, { name: 'before' }),
      storage.jobStore.updateJobState(NODE, { jobId: frozen.job.id, newState: 'CANCELLED' }),
      storage.jobStore.updateJobState(NODE, { jobId: other.job.id, newState: 'CANCELLED' }),
      storage.jobStore.createJob(NODE, { name: 'after' }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({ reason: { code: 'UNAVAILABLE', message: expect.stringMatching(/a drain is moving this job/) } });
    expect(walCommits(file) - before).toBe(1);
    expect((await storage.jobStore.getJob(NODE, { id: frozen.job.id })).state).toBe('QUEUED');
    expect((await storage.jobStore.getJob(NODE, { id: other.job.id })).state).toBe('CANCELLED');
    // Three new history rows, none of them the refused change's, and no revision skipped.
    const added = (await storage.jobStore.getJobHistory(NODE, {})).items.slice(historyBefore.length);
    expect(added.map((event) => [event.type, event.jobId === frozen.job.id])).toEqual([
      ['JOB_CREATED', false],
      ['JOB_STATE_CHANGED', false],
      ['JOB_CREATED', false],
    ]);
    expect(added.map((event) => event.revision)).toEqual([3, 4, 5]);
    expect(checkNodeDatabase('requester', file)).toEqual([]);
  });

  it('counts a CreateBatch by its jobs: batches of many jobs each commit alone, while small creates still share', async () => {
    const storage = temp.open({ groupCommit: { maxWrites: 256, maxWaitMs: 0 } });
    await storage.jobStore.createJob(NODE, {});
    const file = storage.locations.nodeDatabasePath('requester', NODE);
    const before = walCommits(file);
    const jobs = Array.from({ length: 300 }, () => ({ state: 'QUEUED' as const }));
    await Promise.all([
      storage.batches.createBatch(NODE, { jobs }),
      storage.batches.createBatch(NODE, { jobs }),
      ...Array.from({ length: 10 }, () => storage.jobStore.createJob(NODE, {})),
    ]);
    // 300 jobs, 300 jobs, then the ten creates together.
    expect(walCommits(file) - before).toBe(3);
    expect((await storage.jobStore.listJobs(NODE, { pageSize: 1000 })).items).toHaveLength(611);
  });

  it('commits a write still waiting when the LRU closes its database, and when storage closes', async () => {
    const storage = temp.open({ maxOpenDatabases: 1 });
    // node-b's open evicts node-a's handle while node-a's create waits for its batch.
    const first = storage.jobStore.createJob('node-a', { name: 'a' });
    const second = storage.jobStore.createJob('node-b', { name: 'b' });
    const third = storage.jobStore.createJob('node-b', { name: 'c' });
    await expect(Promise.all([first, second, third])).resolves.toHaveLength(3);
    const last = storage.jobStore.createJob('node-b', { name: 'd' });
    storage.close();
    const { job } = await last;

    const reopened = temp.open();
    expect((await reopened.jobStore.getJob('node-a', { name: 'a' })).name).toBe('a');
    expect(await reopened.jobStore.getJob('node-b', { name: 'd' })).toEqual(job);
  });

  it('decides 64 lock calls that arrive together 16 at a time, each 16 committed and answered before the next are decided', async () => {
    const commits: number[] = [];
    const storage = temp.open({ onBatchCommitted: ({ kind, writes }) => kind === 'coordination' && commits.push(writes) });
    const leases = await Promise.all(Array.from({ length: 64 }, () => storage.leaseStore.grant(60)));
    commits.length = 0;
    const answered: number[] = [];
    const acquired = await Promise.all(
      leases.map((lease, i) =>
        storage.lockStore.acquire({ name: `/spread/${i}`, leaseId: lease.id }).then((lock) => {
          answered.push(commits.length);
          return lock;
        }),
      ),
    );
    expect(commits).toEqual([16, 16, 16, 16]);
    // The calls of the first commit were answered before the second commit, and so on.
    expect(answered).toEqual(Array.from({ length: 64 }, (_, i) => Math.floor(i / 16) + 1));
    expect(new Set(acquired.map((lock) => lock.fencingToken)).size).toBe(64);
  });

  it('commits the lease and lock calls of one turn in one coordination.db transaction, a release with the grant to its next waiter', async () => {
    const storage = temp.open();
    const file = storage.locations.coordinationPath;
    const before = walCommits(file);
    const leases = await Promise.all(Array.from({ length: 16 }, () => storage.leaseStore.grant(60)));
    expect(walCommits(file) - before).toBe(1);

    const locks = await Promise.all(leases.map((lease, i) => storage.lockStore.acquire({ name: `/locks/n${i}`, leaseId: lease.id })));
    expect(new Set(locks.map((lock) => lock.fencingToken)).size).toBe(16);
    expect(walCommits(file) - before).toBe(2);

    const [holder, waiter] = leases as [Lease, Lease];
    const held = await storage.lockStore.acquire({ name: '/locks/shared', leaseId: holder.id });
    const waiting = storage.lockStore.acquire({ name: '/locks/shared', leaseId: waiter.id, wait: true });
    await storage.lockStore.release('/locks/shared', holder.id, held.fencingToken);
    const granted = await waiting;
    expect(granted.lock.holderLeaseId).toBe(waiter.id);
    // The acquire that joined the line wrote nothing; the release and the grant committed together.
    expect(walCommits(file) - before).toBe(4);
    const reader = new Database(file, { readonly: true });
    expect(reader.prepare("SELECT holder_lease_id, fencing_token FROM locks WHERE name = '/locks/shared'").get()).toEqual({
      holder_lease_id: waiter.id,
      fencing_token: granted.fencingToken,
    });
    reader.close();
  });
});
