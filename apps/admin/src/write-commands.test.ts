import { JobState } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import type { DatabaseView, LockView } from './admin-views.js';
import { LOCK, REQUESTER, createJobs, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

describe('jobkeep-admin commands that write, live and offline', () => {
  const cluster = useAdminCluster();

  it('never writes offline to a data directory a live server holds, and names that server', async () => {
    const started = await cluster.start();
    await seed(started);
    const attempts = [
      ['retire', REQUESTER],
      ['locks', 'release', LOCK],
      ['retention', 'run'],
      // A dry run deletes nothing, but opens the databases as the server does (and may migrate them).
      ['retention', 'run', '--dry-run'],
      ['import', 'req-9-requester'],
      ['drain', '--from', REQUESTER, '--to', 'req-9'],
    ];
    for (const attempt of attempts) {
      const result = await runAdmin([...started.offline, ...attempt], { input: '' });
      expect(result.code, attempt.join(' ')).toBe(4);
      expect(result.stderr).toMatch(/^jobkeep-admin: FAILED_PRECONDITION: /);
      expect(result.stderr).toContain(`pid ${started.server.child.pid}`);
      expect(result.stdout).toBe('');
    }
    // Nothing changed: the lock is still held, the node still active.
    const { locks } = await adminJson<{ locks: LockView[] }>([...started.live, 'locks']);
    expect(locks[0]!.holderLeaseId).not.toBeNull();
  });

  it('refuses to retire a node while a job is QUEUED, then retires it once every job has ended', async () => {
    const started = await cluster.start();
    await seed(started);
    const retire = (target: string[]) => runAdmin([...target, 'retire', REQUESTER]);

    const refused = await retire(started.live);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/FAILED_PRECONDITION: .*QUEUED/);
    await started.stop();
    const refusedOffline = await retire(started.offline);
    expect(refusedOffline.code).toBe(4);
    expect(refusedOffline.stderr).toMatch(/FAILED_PRECONDITION: .*QUEUED/);

    // Another server, with a node whose every job has ended.
    const again = await cluster.start();
    await createJobs(again, 'old', 2);
    for (const { id } of (await again.jobs.listJobs({ nodeId: 'old' })).jobs) {
      await again.jobs.updateJobState({ nodeId: 'old', jobId: id, newState: JobState.CANCELLED });
    }
    const live = await adminJson<{ nodeId: string; databases: DatabaseView[] }>([...again.live, 'retire', 'old']);
    expect(live.databases.map((info) => [info.name, info.lifecycle])).toEqual([['old-requester', 'RETIRED']]);
    // New jobs there are refused from now on.
    await expect(again.jobs.createJob({ nodeId: 'old', job: {} })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });

    await createJobs(again, 'older', 1);
    const { jobs } = await again.jobs.listJobs({ nodeId: 'older' });
    await again.jobs.updateJobState({ nodeId: 'older', jobId: jobs[0]!.id, newState: JobState.CANCELLED });
    await again.stop();
    const offline = await adminJson<{ databases: DatabaseView[] }>([...again.offline, 'retire', 'older']);
    expect(offline.databases.map((info) => [info.name, info.lifecycle])).toEqual([['older-requester', 'RETIRED']]);
  });

  it('force-releases a lock', async () => {
    const started = await cluster.start();
    const seeded = await seed(started);
    expect(await adminJson([...started.live, 'locks', 'release', LOCK])).toEqual({ name: LOCK, released: true });
    expect((await adminJson<{ locks: LockView[] }>([...started.live, 'locks'])).locks[0]).toMatchObject({ name: LOCK, holderLeaseId: null });

    await started.locks.acquire({ name: '/locks/other', leaseId: seeded.leaseId });
    await started.stop();
    const released = await runAdmin([...started.offline, 'locks', 'release', '/locks/other']);
    expect(released).toMatchObject({ code: 0, stdout: 'released /locks/other\n' });
    const { locks } = await adminJson<{ locks: LockView[] }>([...started.offline, 'locks']);
    expect(locks.map((lock) => [lock.name, lock.holderLeaseId])).toEqual([
      ['/locks/other', null],
      [LOCK, null],
    ]);
    expect((await runAdmin([...started.offline, 'locks', 'release', '/locks/never'])).code).toBe(3);
  });

  it("runs retention: the server's policy live, the flags' offline, reporting first with --dry-run", async () => {
    const started = await cluster.start(['--job-retention', 'CANCELLED=delete:1ms']);
    const seeded = await seed(started);
    const database = `${REQUESTER}-requester`;
    const dry = await adminJson([...started.live, 'retention', 'run', database, '--dry-run']);
    // The seeded creates' request ids are minutes old: retention keeps them for a day.
    expect(dry).toEqual({ dryRun: true, outcomes: [expect.objectContaining({ database, deleted: { CANCELLED: 1 }, requestIdsRemoved: 0 })] });
    expect((await started.jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: seeded.cancelledJobId } })).job).toBeDefined();
    const run = await adminJson([...started.live, 'retention', 'run']);
    expect(run).toMatchObject({ dryRun: false, outcomes: [expect.objectContaining({ database, deleted: { CANCELLED: 1 } })] });
    await expect(started.jobs.getJob({ nodeId: REQUESTER, key: { case: 'id', value: seeded.cancelledJobId } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const flagsLive = await runAdmin([...started.live, 'retention', 'run', '--job-retention', 'PENDING=fail:1ms']);
    expect(flagsLive.code).toBe(2);

    await started.stop();
    const policy = ['--job-retention', 'PENDING=fail:1ms'];
    const offlineDry = await adminJson([...started.offline, 'retention', 'run', '--dry-run', ...policy]);
    expect(offlineDry).toEqual({ dryRun: true, outcomes: [expect.objectContaining({ database, failed: { PENDING: 2 } })] });
    const offline = await runAdmin([...started.offline, 'retention', 'run', ...policy]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(new RegExp(`${database}\\s.*PENDING=2`));
    expect(offline.stdout).toMatch(/BATCHES\s*│\s*REQUEST IDS/);
    const { databases } = await adminJson<{ databases: DatabaseView[] }>([...started.offline, 'databases']);
    const counts = databases.find((info) => info.name === database)!.counts;
    expect(counts.FAILED).toBe(2);
    expect(counts.PENDING ?? 0).toBe(0);
  });

  it('drains a node into another and retires it, live and offline', async () => {
    const started = await cluster.start();
    await seed(started);
    await createJobs(started, 'd-1', 5);
    const live = await adminJson([...started.live, 'drain', '--from', REQUESTER, '--to', 'd-2']);
    expect(live).toMatchObject({ from: REQUESTER, to: 'd-2', retired: true });
    // The two PENDING jobs and the QUEUED one; the CANCELLED one stays behind.
    expect((await started.jobs.listJobs({ nodeId: 'd-2' })).jobs).toHaveLength(3);
    await started.stop();
    const offline = await runAdmin([...started.offline, 'drain', '--from', 'd-1', '--to', 'd-3']);
    expect(offline).toMatchObject({ code: 0, stdout: expect.stringMatching(/moved 5 jobs from d-1-requester to d-3-requester; d-1-requester is RETIRED/) });
    const { databases } = await adminJson<{ databases: DatabaseView[] }>([...started.offline, 'databases']);
    expect(databases.find((info) => info.name === 'd-1-requester')).toMatchObject({ lifecycle: 'RETIRED', counts: expect.not.objectContaining({ PENDING: 5 }) });
    expect(databases.find((info) => info.name === 'd-3-requester')!.counts).toMatchObject({ PENDING: 5 });
  });
});
