import { describe, expect, it } from 'vitest';
import { useCoordinationClients } from './test-support/coordination-clients.js';
import { failsWith } from './test-support/fails-with.js';
import { useTestServers } from './test-support/test-server.js';

const NODE = 'requester-1';
const LOCK = '/locks/queue/ingest';

/** Concurrent writes to one node database over gRPC, which the server commits in shared transactions. */
describe('group commit over gRPC', () => {
  const servers = useTestServers();
  const coordination = useCoordinationClients();

  it('fails only the calls that fail among concurrent ones, and commits every other', async () => {
    const { server, client } = await servers.start();
    const { leases, locks } = coordination(server.address);
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    const { fencingToken: old } = await locks.acquire({ name: LOCK, leaseId: lease!.id });
    await locks.release({ name: LOCK, leaseId: lease!.id, fencingToken: old });
    const { fencingToken: current } = await locks.acquire({ name: LOCK, leaseId: lease!.id });
    await client.createJob({ nodeId: NODE, job: { name: 'taken' } });

    const outcomes = await Promise.allSettled(
      Array.from({ length: 48 }, (_, i) => {
        const fencingToken = i === 30 ? old : current;
        return client.createJob({ nodeId: NODE, job: { name: i === 10 ? 'taken' : `job-${i}` }, lockGuard: { lockName: LOCK, fencingToken } });
      }),
    );
    expect(outcomes[10]).toEqual({ status: 'rejected', reason: failsWith('ALREADY_EXISTS', 'taken') });
    expect(outcomes[30]).toEqual({ status: 'rejected', reason: failsWith('ABORTED', `not ${old}`) });
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(46);
    const names = (await client.listJobs({ nodeId: NODE, pageSize: 100 })).jobs.map((job) => job.name);
    expect(names.sort()).toEqual(['taken', ...Array.from({ length: 48 }, (_, i) => `job-${i}`).filter((name) => name !== 'job-10' && name !== 'job-30')].sort());
    // One history row per committed change, numbered without gaps: the failed calls left none.
    const { events } = await client.getJobHistory({ nodeId: NODE, pageSize: 100 });
    expect(events.map((event) => Number(event.revision))).toEqual(Array.from({ length: 47 }, (_, i) => i + 1));
  });

  it('keeps every acknowledged write of calls in flight when it shuts down, and leaves no call unanswered', async () => {
    const first = await servers.start();
    const calls = Array.from({ length: 32 }, (_, i) => first.client.createJob({ nodeId: NODE, job: { name: `job-${i}` } }));
    const stopped = first.server.shutdown();
    const outcomes = await Promise.allSettled(calls);
    await stopped;
    const acknowledged = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.job!] : []));

    const second = await servers.start({ dataDir: first.dataDir });
    for (const job of acknowledged) expect((await second.client.getJob({ nodeId: NODE, key: { case: 'id', value: job.id } })).job).toEqual(job);
  });

  it('says which durability it runs with, and keeps coordination.db FULL even when relaxed', async () => {
    const full = await servers.start();
    expect(full.server.storage.coordination.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(await full.logged('jobkeep serving')).toMatchObject({ durability: 'full' });

    // Node databases take the relaxed mode (libs/store's database-pool tests check their pragma);
    // a token or lease revoke in coordination.db must survive a power loss whatever the mode.
    const relaxed = await servers.start({ durability: 'power-loss-may-lose-writes' });
    expect(relaxed.server.storage.coordination.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(await relaxed.logged('jobkeep serving')).toMatchObject({ durability: 'power-loss-may-lose-writes' });
  });
});
