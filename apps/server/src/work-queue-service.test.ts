import fs from 'node:fs';
import path from 'node:path';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { JobState, JobStore, OnDuplicate, createTypedClient, type Job, type TypedClient } from '@jobkeep/api';
import { LEASE_LIMITS } from '@jobkeep/store';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, useCoordinationClients } from './test-support/coordination-clients.js';
import { failsWith } from './test-support/fails-with.js';
import { useTestServers } from './test-support/test-server.js';
import { historyFrom } from './test-support/watch-helpers.js';

const NODE = 'requester-1';

/** The claim a claimed job carries, as UpdateJobState takes it. */
const proof = (job: Job) => ({ leaseId: job.claim!.leaseId, token: job.claim!.token });
const byBigint = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * ClaimJob, retries, pipeline stages, holds and dedupe keys of jobkeep.v1.JobStore, over gRPC against real servers.
 * A lost claim must be ABORTED whatever state the job has moved to; those checks are soft, so that a
 * failure there still lets the rest of each story run.
 */
describe('jobkeep.v1.JobStore work queues over gRPC', () => {
  const servers = useTestServers();
  const clientsOf = useCoordinationClients();
  const connections: { close(): void }[] = [];
  afterEach(() => {
    for (const connection of connections.splice(0)) connection.close();
  });

  const start = async () => {
    const test = await servers.start({ leaseSweepIntervalMs: 100 });
    const { leases } = clientsOf(test.server.address);
    const client = test.client;
    /** A new lease of `ttlSeconds`, which nobody keeps alive; its id. */
    const lease = async (ttlSeconds = 60) => (await leases.grant({ ttlSeconds: BigInt(ttlSeconds) })).lease!.id;
    const get = async (id: string) => (await client.getJob({ nodeId: NODE, key: { case: 'id', value: id } })).job!;
    /** A client over a TCP connection of its own (grpc-js shares subchannels between clients otherwise). */
    const connection = (): TypedClient<typeof JobStore> => {
      const opened = createTypedClient(JobStore, test.server.address, {
        defaultDeadlineMs: 10_000,
        channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
      });
      connections.push(opened);
      return opened;
    };
    return { ...test, leases, lease, get, connection };
  };

  it('hands every job of a queue to exactly one of 20 concurrent claimers, in priority-then-age order', async () => {
    const { client, lease, connection } = await start();
    const priorities = Array.from({ length: 400 }, (_, i) => (i * 7919) % 5);
    const { jobIds } = await client.createBatch({
      nodeId: NODE,
      batch: { id: 'drain' },
      jobs: priorities.map((priority) => ({ queue: 'drain', state: JobState.QUEUED, priority })),
    });
    // Four connections, five claimers on each, every claimer with a lease of its own.
    const links = Array.from({ length: 4 }, connection);
    const claimers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => ({ link: links[i % links.length]!, leaseId: await lease(), worker: `worker-${i}` })),
    );
    const claimed = await Promise.all(
      claimers.map(async ({ link, leaseId, worker }) => {
        const mine: Job[] = [];
        for (;;) {
          const { job, queueHeld } = await link.claimJob({ nodeId: NODE, queue: 'drain', leaseId, worker });
          expect(queueHeld).toBe(false);
          if (job === undefined) return mine;
          expect(job).toMatchObject({ state: JobState.RUNNING, queue: 'drain', claim: { leaseId, worker } });
          mine.push(job);
          const { job: done } = await link.updateJobState({ nodeId: NODE, jobId: job.id, newState: JobState.COMPLETED, claim: proof(job) });
          expect(done).toMatchObject({ state: JobState.COMPLETED, lastSuccessfulQueue: 'drain' });
          expect(done!.claim).toBeUndefined();
        }
      }),
    );

    const all = claimed.flat();
    // Never the same job twice, and every job once.
    expect(new Set(all.map((job) => job.id)).size).toBe(all.length);
    expect(all.map((job) => job.id).sort()).toEqual([...jobIds].sort());
    expect(claimed.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);
    // A claim's token is the revision of its change: in the order the store handed them out, the
    // jobs come highest priority first, then oldest (their order in the batch) first.
    for (const job of all) expect(job.claim!.token).toBe(job.revision);
    const handedOut = [...all].sort((a, b) => byBigint(a.claim!.token, b.claim!.token)).map((job) => job.id);
    const expected = jobIds
      .map((id, index) => ({ id, index, priority: priorities[index]! }))
      .sort((a, b) => b.priority - a.priority || a.index - b.index)
      .map((job) => job.id);
    expect(handedOut).toEqual(expected);
    expect((await client.getBatch({ nodeId: NODE, batchId: 'drain' })).batch).toMatchObject({
      total: 400n,
      completed: true,
      counts: [{ state: JobState.COMPLETED, count: 400n }],
    });
  });

  it('claims one by one in priority order, then age, skipping other queues and jobs that are not QUEUED', async () => {
    const { client, lease } = await start();
    // 300 jobs over 7 priorities (-3 to 3), interleaved so that age and priority disagree.
    const priorities = Array.from({ length: 300 }, (_, i) => ((i * 5) % 7) - 3);
    const { jobIds } = await client.createBatch({
      nodeId: NODE,
      jobs: priorities.map((priority) => ({ queue: 'ordered', state: JobState.QUEUED, priority })),
    });
    await client.createJob({ nodeId: NODE, job: { id: 'pending-one', queue: 'ordered', priority: 9 } });
    await client.createJob({ nodeId: NODE, job: { id: 'held-one', queue: 'ordered', priority: 9, state: JobState.HELD } });
    await client.createJob({ nodeId: NODE, job: { id: 'elsewhere', queue: 'other', priority: 9, state: JobState.QUEUED } });
    const leaseId = await lease();
    const order: string[] = [];
    for (;;) {
      const { job } = await client.claimJob({ nodeId: NODE, queue: 'ordered', leaseId, worker: 'one-by-one' });
      if (job === undefined) break;
      order.push(job.id);
    }
    const expected = jobIds
      .map((id, index) => ({ id, index, priority: priorities[index]! }))
      .sort((a, b) => b.priority - a.priority || a.index - b.index)
      .map((job) => job.id);
    expect(order).toEqual(expected);
    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: 'pending-one' } })).job?.state).toBe(JobState.PENDING);
    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: 'held-one' } })).job?.state).toBe(JobState.HELD);
    expect((await client.claimJob({ nodeId: NODE, queue: 'other', leaseId })).job?.id).toBe('elsewhere');
    // The default queue is the empty string, and is as empty as any other.
    expect(await client.claimJob({ nodeId: NODE, leaseId })).toEqual(expect.objectContaining({ queueHeld: false }));
  });

  it('returns the job of a claimer whose lease expired, retries it after its backoff, and fails it once out of retries', async () => {
    const { client, leases, lease, get } = await start();
    const retryPolicy = { maxRetries: 2, backoffMs: 500, maxBackoffMs: 500 };
    await client.createJob({ nodeId: NODE, job: { id: 'flaky', queue: 'stage-1', state: JobState.QUEUED, retryPolicy } });
    // Stage 1 goes well, so that the job has a last successful queue to keep.
    const steady = await lease();
    const first = (await client.claimJob({ nodeId: NODE, queue: 'stage-1', leaseId: steady, worker: 'steady' })).job!;
    await client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.QUEUED, nextQueue: 'stage-2', claim: proof(first) });

    // Stage 2's claimer has the shortest lease there is and never keeps it alive.
    const short = await lease(LEASE_LIMITS.minTtlSeconds);
    const doomed = (await client.claimJob({ nodeId: NODE, queue: 'stage-2', leaseId: short, worker: 'doomed' })).job!;
    expect(doomed).toMatchObject({ id: 'flaky', state: JobState.RUNNING, retryCount: 0, claim: { leaseId: short, token: doomed.revision, worker: 'doomed' } });
    expect(doomed.retryPolicy).toMatchObject(retryPolicy);
    // Nobody finishes a claimed job without its claim, and a wrong token is a lost claim.
    await expect(client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.COMPLETED })).rejects.toEqual(
      failsWith('FAILED_PRECONDITION', `lease ${short}`, 'needs that claim'),
    );
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.COMPLETED, claim: { leaseId: short, token: doomed.claim!.token + 1n } }),
    ).rejects.toEqual(failsWith('ABORTED', `token ${doomed.claim!.token}`));
    expect(await get('flaky')).toEqual(doomed);

    await eventually(async () => (await get('flaky')).state === JobState.QUEUED, 10_000);
    const returned = await get('flaky');
    expect(returned).toMatchObject({
      state: JobState.QUEUED,
      queue: 'stage-2',
      lastSuccessfulQueue: 'stage-1',
      retryCount: 1,
      stateMessage: expect.stringMatching(new RegExp(`lease ${short} of doomed ended.*retry 1 of 2 after 500 ms`)),
    });
    expect(returned.claim).toBeUndefined();
    expect(timestampMs(returned.retryTime!)).toBe(timestampMs(returned.modifyTime!) + 500);
    await expect(leases.timeToLive({ leaseId: short })).rejects.toEqual(failsWith('NOT_FOUND'));

    // The expired claimer's late report is refused as a lost claim, and changes nothing.
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.FAILED, message: 'late', claim: proof(doomed) }),
    ).rejects.toEqual(failsWith('ABORTED', 'flaky'));
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.COMPLETED, claim: proof(doomed) }),
    ).rejects.toEqual(failsWith('ABORTED', 'flaky'));
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'flaky', newState: JobState.QUEUED, message: 'give back', claim: proof(doomed) }),
    ).rejects.toEqual(failsWith('ABORTED', 'flaky'));
    expect(await get('flaky')).toEqual(returned);

    // Not handed out before its retry time (500 ms after its return), then handed out.
    const second = await lease();
    const early = await client.claimJob({ nodeId: NODE, queue: 'stage-2', leaseId: second, worker: 'second' });
    expect(early.job).toBeUndefined();
    expect(early.queueHeld).toBe(false);
    const retried = await claimWhenReady(client, 'stage-2', second, 'second');
    expect(retried).toMatchObject({ id: 'flaky', state: JobState.RUNNING, retryCount: 1, lastSuccessfulQueue: 'stage-1', claim: { leaseId: second } });
    expect(retried.retryTime).toBeUndefined();
    expect(timestampMs(retried.claim!.claimTime!)).toBeGreaterThanOrEqual(timestampMs(returned.retryTime!));

    // The second attempt's lease ends too (revoked): retry 2 of 2.
    await leases.revoke({ leaseId: second });
    await eventually(async () => (await get('flaky')).state === JobState.QUEUED);
    const again = await get('flaky');
    expect(again).toMatchObject({ retryCount: 2, lastSuccessfulQueue: 'stage-1', queue: 'stage-2' });
    expect(timestampMs(again.retryTime!)).toBe(timestampMs(again.modifyTime!) + 500);

    // The third attempt's lease ends: out of retries, FAILED for good.
    const third = await lease();
    const last = await claimWhenReady(client, 'stage-2', third, 'third');
    expect(last).toMatchObject({ id: 'flaky', retryCount: 2 });
    await leases.revoke({ leaseId: third });
    await eventually(async () => (await get('flaky')).state === JobState.FAILED);
    const failed = await get('flaky');
    expect(failed).toMatchObject({ retryCount: 2, stateMessage: expect.stringMatching(`lease ${third} of third ended.*out of retries`) });
    expect(failed.claim).toBeUndefined();
    expect((await client.claimJob({ nodeId: NODE, queue: 'stage-2', leaseId: steady })).job).toBeUndefined();
  });

  it('lets anyone cancel a claimed job without its claim; the claimer has lost it and its lease end leaves it alone', async () => {
    const { client, leases, lease, get } = await start();
    await client.createJob({ nodeId: NODE, job: { id: 'doomed', queue: 'q', state: JobState.QUEUED } });
    const leaseId = await lease();
    const claimed = (await client.claimJob({ nodeId: NODE, queue: 'q', leaseId, worker: 'w' })).job!;
    const { job: cancelled } = await client.updateJobState({ nodeId: NODE, jobId: 'doomed', newState: JobState.CANCELLED, message: 'operator' });
    expect(cancelled).toMatchObject({ state: JobState.CANCELLED, stateMessage: 'operator' });
    expect(cancelled!.claim).toBeUndefined();
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'doomed', newState: JobState.COMPLETED, claim: proof(claimed) }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(ABORTED|FAILED_PRECONDITION)$/) });
    await leases.revoke({ leaseId });
    // Let a return of the lease's claims run (it has none left), then look: unchanged.
    await client.createJob({ nodeId: NODE, job: { id: 'marker', queue: 'q', state: JobState.QUEUED } });
    const other = await lease();
    const marker = (await client.claimJob({ nodeId: NODE, queue: 'q', leaseId: other })).job!;
    await leases.revoke({ leaseId: other });
    await eventually(async () => (await get('marker')).state === JobState.QUEUED);
    expect(marker.id).toBe('marker');
    expect(await get('doomed')).toEqual(cancelled);
  });

  it('moves a job along a pipeline: finish stage 1 into stage 2, give it back once, finish stage 2', async () => {
    const { client, lease, get } = await start();
    const retryPolicy = { maxRetries: 3, backoffMs: 100, maxBackoffMs: 100 };
    await client.createJob({ nodeId: NODE, job: { id: 'etl', queue: 'stage-1', state: JobState.QUEUED, retryPolicy } });
    const leaseId = await lease();
    const one = (await client.claimJob({ nodeId: NODE, queue: 'stage-1', leaseId, worker: 'extract' })).job!;
    expect(one).toMatchObject({ id: 'etl', lastSuccessfulQueue: '' });

    // A give-back without next_queue retries the same stage.
    const { job: givenBack } = await client.updateJobState({ nodeId: NODE, jobId: 'etl', newState: JobState.QUEUED, message: 'source busy', claim: proof(one) });
    expect(givenBack).toMatchObject({ state: JobState.QUEUED, queue: 'stage-1', retryCount: 1, lastSuccessfulQueue: '' });
    expect(givenBack!.claim).toBeUndefined();
    expect(givenBack!.retryTime).toBeDefined();
    const oneAgain = await claimWhenReady(client, 'stage-1', leaseId, 'extract');

    const { job: advanced } = await client.updateJobState({
      nodeId: NODE,
      jobId: 'etl',
      newState: JobState.QUEUED,
      nextQueue: 'stage-2',
      message: 'extracted',
      claim: proof(oneAgain),
    });
    // The next stage starts afresh: no retries used, claimable at once.
    expect(advanced).toMatchObject({ state: JobState.QUEUED, queue: 'stage-2', lastSuccessfulQueue: 'stage-1', retryCount: 0, stateMessage: 'extracted' });
    expect(advanced!.claim).toBeUndefined();
    expect(advanced!.retryTime).toBeUndefined();
    // The old claim is spent: stage 1 is done with.
    await expect(
      client.updateJobState({ nodeId: NODE, jobId: 'etl', newState: JobState.QUEUED, nextQueue: 'stage-3', claim: proof(oneAgain) }),
    ).rejects.toEqual(failsWith('ABORTED', 'etl'));
    expect((await client.claimJob({ nodeId: NODE, queue: 'stage-1', leaseId })).job).toBeUndefined();

    const two = (await client.claimJob({ nodeId: NODE, queue: 'stage-2', leaseId, worker: 'load' })).job!;
    expect(two).toMatchObject({ id: 'etl', state: JobState.RUNNING, lastSuccessfulQueue: 'stage-1', claim: { worker: 'load' } });
    expect(two.claim!.token).toBeGreaterThan(oneAgain.claim!.token);
    const { job: done } = await client.updateJobState({ nodeId: NODE, jobId: 'etl', newState: JobState.COMPLETED, claim: proof(two) });
    expect(done).toMatchObject({ state: JobState.COMPLETED, queue: 'stage-2', lastSuccessfulQueue: 'stage-2' });
    expect(done!.claim).toBeUndefined();
    expect(await get('etl')).toEqual(done);
  });

  it('hands out nothing from a held queue, then its jobs in order once released', async () => {
    const { client, lease } = await start();
    for (const [id, priority] of [['a', 1], ['b', 5], ['c', 1]] as const) {
      await client.createJob({ nodeId: NODE, job: { id, queue: 'render', priority, state: JobState.QUEUED } });
    }
    await client.createJob({ nodeId: NODE, job: { id: 'x', queue: 'other', state: JobState.QUEUED } });
    const before = (await client.listJobs({ nodeId: NODE, queue: 'render' })).jobs;
    const leaseId = await lease();

    const { hold } = await client.holdQueue({ nodeId: NODE, queue: 'render', message: 'maintenance' });
    expect(hold).toMatchObject({ queue: 'render', message: 'maintenance' });
    expect(hold!.holdTime).toBeDefined();
    // Holding again keeps the first hold as it was.
    expect((await client.holdQueue({ nodeId: NODE, queue: 'render', message: 'again' })).hold).toEqual(hold);
    const whileHeld = await client.claimJob({ nodeId: NODE, queue: 'render', leaseId });
    expect(whileHeld.job).toBeUndefined();
    expect(whileHeld.queueHeld).toBe(true);
    // Other queues are not held.
    expect((await client.claimJob({ nodeId: NODE, queue: 'other', leaseId })).job?.id).toBe('x');
    // The held queue's jobs did not move.
    expect((await client.listJobs({ nodeId: NODE, queue: 'render' })).jobs).toEqual(before);

    await client.holdQueue({ nodeId: NODE, queue: 'zeta' });
    await client.holdQueue({ nodeId: NODE, queue: 'alpha', message: 'a' });
    const page = await client.listQueueHolds({ nodeId: NODE, pageSize: 2 });
    expect(page.holds.map((held) => held.queue)).toEqual(['alpha', 'render']);
    expect(page.holds[1]).toEqual(hold);
    const rest = await client.listQueueHolds({ nodeId: NODE, pageSize: 2, pageToken: page.nextPageToken });
    expect(rest.holds.map((held) => held.queue)).toEqual(['zeta']);
    expect(rest.nextPageToken).toBe('');

    expect(await client.releaseQueue({ nodeId: NODE, queue: 'render' })).toEqual(expect.objectContaining({ released: true }));
    expect(await client.releaseQueue({ nodeId: NODE, queue: 'render' })).toEqual(expect.objectContaining({ released: false }));
    expect((await client.listQueueHolds({ nodeId: NODE })).holds.map((held) => held.queue)).toEqual(['alpha', 'zeta']);
    const order: string[] = [];
    for (;;) {
      const claimed = await client.claimJob({ nodeId: NODE, queue: 'render', leaseId });
      expect(claimed.queueHeld).toBe(false);
      if (claimed.job === undefined) break;
      order.push(claimed.job.id);
    }
    expect(order).toEqual(['b', 'a', 'c']);
  });

  it('holds and releases one job, which keeps its place in its queue; a held RUNNING job loses its claim', async () => {
    const { client, lease, get } = await start();
    for (const id of ['j1', 'j2', 'j3', 'j4']) await client.createJob({ nodeId: NODE, job: { id, queue: 'q', state: JobState.QUEUED } });
    const leaseId = await lease();
    const claim = async () => (await client.claimJob({ nodeId: NODE, queue: 'q', leaseId, worker: 'w' })).job!;

    const { job: held } = await client.holdJob({ nodeId: NODE, jobId: 'j1', message: 'suspect input' });
    expect(held).toMatchObject({ state: JobState.HELD, stateMessage: 'suspect input' });
    // Holding a held job changes nothing.
    expect((await client.holdJob({ nodeId: NODE, jobId: 'j1', message: 'twice' })).job).toEqual(held);
    expect((await claim()).id).toBe('j2');
    const { job: released } = await client.releaseJob({ nodeId: NODE, jobId: 'j1', message: 'input fixed' });
    expect(released).toMatchObject({ state: JobState.QUEUED, stateMessage: 'input fixed' });
    // Its place is its age: ahead of j3 and j4.
    const j1 = await claim();
    expect(j1.id).toBe('j1');

    // Holding the RUNNING j1 takes it from its claimer, whose claim is then lost.
    const { job: heldRunning } = await client.holdJob({ nodeId: NODE, jobId: 'j1', message: 'pause' });
    expect(heldRunning).toMatchObject({ state: JobState.HELD });
    expect(heldRunning!.claim).toBeUndefined();
    await expect(client.updateJobState({ nodeId: NODE, jobId: 'j1', newState: JobState.COMPLETED, claim: proof(j1) })).rejects.toEqual(
      failsWith('ABORTED', 'j1'),
    );
    expect(await get('j1')).toEqual(heldRunning);
    // Released, it waits in its queue again, still ahead of j3.
    expect((await client.releaseJob({ nodeId: NODE, jobId: 'j1' })).job).toMatchObject({ state: JobState.QUEUED });
    expect((await claim()).id).toBe('j1');
    expect((await claim()).id).toBe('j3');

    await expect(client.releaseJob({ nodeId: NODE, jobId: 'j4' })).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'j4', 'QUEUED', 'not HELD'));
    await expect(client.holdJob({ nodeId: NODE, jobId: 'j4', expectedRevision: 1n })).rejects.toEqual(failsWith('FAILED_PRECONDITION'));
    await expect(client.holdJob({ nodeId: NODE, jobId: 'nope' })).rejects.toEqual(failsWith('NOT_FOUND', 'nope'));
    expect((await get('j4')).state).toBe(JobState.QUEUED);
  });

  it('refuses a second live job with the same dedupe key, or returns the live one, until the first is terminal', async () => {
    const { client, lease, get } = await start();
    const { job: first, existing } = await client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42', queue: 'billing', state: JobState.QUEUED } });
    expect(existing).toBe(false);
    expect(first).toMatchObject({ dedupeKey: 'invoice-42' });

    await expect(client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42' } })).rejects.toEqual(
      failsWith('ALREADY_EXISTS', 'invoice-42', first!.id),
    );
    await expect(
      client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42' }, onDuplicate: OnDuplicate.FAIL }),
    ).rejects.toEqual(failsWith('ALREADY_EXISTS', first!.id));
    const returned = await client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42', priority: 7 }, onDuplicate: OnDuplicate.RETURN_EXISTING });
    expect(returned).toEqual(expect.objectContaining({ existing: true, job: first }));
    // Keys are per namespace.
    const { job: elsewhere } = await client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42', namespace: 'other' } });
    expect(elsewhere!.id).not.toBe(first!.id);
    expect((await client.listJobs({ nodeId: NODE, namespace: 'default' })).jobs).toEqual([first]);

    // Still live while RUNNING; free once the job is terminal.
    const leaseId = await lease();
    const claimed = (await client.claimJob({ nodeId: NODE, queue: 'billing', leaseId })).job!;
    const live = await client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42' }, onDuplicate: OnDuplicate.RETURN_EXISTING });
    expect(live).toEqual(expect.objectContaining({ existing: true, job: claimed }));
    await client.updateJobState({ nodeId: NODE, jobId: first!.id, newState: JobState.COMPLETED, claim: proof(claimed) });
    const { job: next, existing: nextExisting } = await client.createJob({
      nodeId: NODE,
      job: { dedupeKey: 'invoice-42' },
      onDuplicate: OnDuplicate.RETURN_EXISTING,
    });
    expect(nextExisting).toBe(false);
    expect(next!.id).not.toBe(first!.id);
    expect(next).toMatchObject({ state: JobState.PENDING, dedupeKey: 'invoice-42' });
    expect((await get(first!.id)).state).toBe(JobState.COMPLETED);
    await expect(client.createJob({ nodeId: NODE, job: { dedupeKey: 'invoice-42' } })).rejects.toEqual(failsWith('ALREADY_EXISTS', next!.id));
  });

  it('refuses bad claims and bad state changes with precise codes, changing nothing', async () => {
    const { client, leases, lease, get, dataDir } = await start();
    await client.createJob({ nodeId: NODE, job: { id: 'steady', queue: 'q', state: JobState.QUEUED } });
    const leaseId = await lease();
    const expired = await lease();
    await leases.revoke({ leaseId: expired });
    const jobBefore = await get('steady');
    const historyBefore = await historyFrom(client, NODE);

    await expect(client.claimJob({ nodeId: NODE, queue: 'q', leaseId: 0n })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'lease_id'));
    await expect(client.claimJob({ nodeId: NODE, queue: 'q' })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'lease_id'));
    await expect(client.claimJob({ nodeId: NODE, queue: 'q', leaseId: 9999n })).rejects.toEqual(failsWith('NOT_FOUND', 'lease 9999'));
    await expect(client.claimJob({ nodeId: NODE, queue: 'q', leaseId: expired })).rejects.toEqual(failsWith('NOT_FOUND', `lease ${expired}`));
    await expect(client.claimJob({ nodeId: NODE, queue: 'q', leaseId: 2n ** 63n })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'lease_id'));
    // A node with no database has nothing to hand out yet.
    const nothing = await client.claimJob({ nodeId: 'nobody', queue: 'q', leaseId });
    expect(nothing.job).toBeUndefined();
    expect(nothing.queueHeld).toBe(false);
    await expect(client.claimJob({ nodeId: '../etc', queue: 'q', leaseId })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'node_id'));
    for (const queue of ['bad queue', '../q', '-q', 'q'.repeat(129)]) {
      await expect(client.claimJob({ nodeId: NODE, queue, leaseId })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'queue'));
    }
    await expect(client.claimJob({ nodeId: NODE, queue: 'q', leaseId, worker: 'w'.repeat(257) })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT', 'worker', '257'),
    );
    // No database was made for the unknown node.
    expect(fs.readdirSync(dataDir).filter((file) => file.startsWith('nobody'))).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'nobody-requester.db'))).toBe(false);

    const claimed = (await client.claimJob({ nodeId: NODE, queue: 'q', leaseId })).job!;
    const claimedHistory = await historyFrom(client, NODE);
    const refusals: [Parameters<typeof client.updateJobState>[0], ReturnType<typeof failsWith>][] = [
      [{ newState: JobState.COMPLETED, nextQueue: 'stage-2', claim: proof(claimed) }, failsWith('INVALID_ARGUMENT', 'next_queue', 'COMPLETED')],
      [{ newState: JobState.FAILED, nextQueue: 'stage-2', claim: proof(claimed) }, failsWith('INVALID_ARGUMENT', 'next_queue', 'FAILED')],
      [{ newState: JobState.QUEUED, nextQueue: 'bad queue', claim: proof(claimed) }, failsWith('INVALID_ARGUMENT', 'next_queue')],
      [{ newState: JobState.COMPLETED, claim: { leaseId: 0n, token: claimed.claim!.token } }, failsWith('INVALID_ARGUMENT', 'claim.lease_id')],
      [{ newState: JobState.COMPLETED, claim: { leaseId: leaseId + 1000n, token: claimed.claim!.token } }, failsWith('ABORTED', 'steady')],
      [{ newState: JobState.COMPLETED }, failsWith('FAILED_PRECONDITION', 'steady', 'needs that claim')],
      [{ newState: JobState.QUEUED, nextQueue: 'stage-2' }, failsWith('FAILED_PRECONDITION', 'steady', 'needs that claim')],
    ];
    for (const [request, refusal] of refusals) {
      await expect(client.updateJobState({ nodeId: NODE, jobId: 'steady', ...request })).rejects.toEqual(refusal);
    }
    expect(await get('steady')).toEqual(claimed);
    expect(await historyFrom(client, NODE)).toEqual(claimedHistory);
    expect(claimedHistory.slice(0, historyBefore.length)).toEqual(historyBefore);
    expect(claimed.revision).toBeGreaterThan(jobBefore.revision);

    // next_queue is for a RUNNING job finishing its stage, not for a QUEUED one.
    await client.createJob({ nodeId: NODE, job: { id: 'waiting', queue: 'q', state: JobState.QUEUED } });
    await expect(client.updateJobState({ nodeId: NODE, jobId: 'waiting', newState: JobState.QUEUED, nextQueue: 'stage-2' })).rejects.toEqual(
      failsWith('FAILED_PRECONDITION', 'waiting'),
    );
    expect(await get('waiting')).toMatchObject({ state: JobState.QUEUED, queue: 'q' });
  });
});

/** Claims from `queue` as soon as a job is ready there (a retried job waits out its backoff). */
async function claimWhenReady(client: TypedClient<typeof JobStore>, queue: string, leaseId: bigint, worker: string): Promise<Job> {
  let claimed: Job | undefined;
  await eventually(async () => (claimed = (await client.claimJob({ nodeId: NODE, queue, leaseId, worker })).job) !== undefined);
  return claimed!;
}
