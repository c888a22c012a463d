import { JobEventType, JobState, OnDuplicate, type Batch, type Job } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { eventually, useCoordinationClients } from './test-support/coordination-clients.js';
import { failsWith } from './test-support/fails-with.js';
import { useTestServers } from './test-support/test-server.js';
import { eventsUntilProgress, historyFrom, next } from './test-support/watch-helpers.js';

const NODE = 'requester-1';

const proof = (job: Job) => ({ leaseId: job.claim!.leaseId, token: job.claim!.token });
/** A batch's counts as a record by state name, for readable comparisons. */
const countsOf = (batch: Batch | undefined) =>
  Object.fromEntries(batch!.counts.map((count) => [JobState[count.state], Number(count.count)]));

/** CreateBatch, GetBatch, ListBatches, GetBatchReport and BATCH_COMPLETED, over gRPC against real servers. */
describe('jobkeep.v1.JobStore batches over gRPC', () => {
  const servers = useTestServers();
  const clientsOf = useCoordinationClients();

  const start = async () => {
    const test = await servers.start({ leaseSweepIntervalMs: 100, watchProgressIntervalMs: 100 });
    const { leases } = clientsOf(test.server.address);
    const lease = async (ttlSeconds = 60) => (await leases.grant({ ttlSeconds: BigInt(ttlSeconds) })).lease!.id;
    const getBatch = async (batchId: string) => (await test.client.getBatch({ nodeId: NODE, batchId })).batch!;
    return { ...test, leases, lease, getBatch };
  };

  it('creates 200 jobs in one call, and keeps the batch counts in step with every job change', async () => {
    const { client, lease, getBatch } = await start();
    const created = await client.createBatch({
      nodeId: NODE,
      batch: { id: 'nightly', namespace: 'etl', labels: { run: '2024-05-01' } },
      jobs: Array.from({ length: 200 }, (_, i) => ({ name: `part-${i}`, queue: 'parts', state: JobState.QUEUED, priority: i % 3, spec: { part: i } })),
    });
    expect(created.jobIds).toHaveLength(200);
    expect(new Set(created.jobIds).size).toBe(200);
    expect(created.batch).toMatchObject({ id: 'nightly', namespace: 'etl', labels: { run: '2024-05-01' }, total: 200n, completed: false, completeRevision: 0n });
    expect(countsOf(created.batch)).toEqual({ QUEUED: 200 });
    expect(created.batch!.completeTime).toBeUndefined();
    // One create event per job, and the response's revision is the head after them.
    const history = await historyFrom(client, NODE);
    expect(history.filter((event) => event.type === JobEventType.JOB_CREATED)).toHaveLength(200);
    expect(created.revision).toBe(history.at(-1)!.revision);
    expect(await getBatch('nightly')).toEqual(created.batch);

    // The jobs are there, in the request's order, in the batch and its namespace.
    const listed: Job[] = [];
    let pageToken = '';
    do {
      const page = await client.listJobs({ nodeId: NODE, batchId: 'nightly', pageSize: 64, pageToken });
      listed.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    // (Jobs made in one transaction share their create time; the list breaks the tie by id.)
    expect(listed.map((job) => job.id).sort()).toEqual([...created.jobIds].sort());
    expect(listed.find((job) => job.id === created.jobIds[7])).toMatchObject({ name: 'part-7', namespace: 'etl', batchId: 'nightly', queue: 'parts', spec: { part: 7 } });

    const leaseId = await lease();
    const claimed: Job[] = [];
    for (let i = 0; i < 4; i++) claimed.push((await client.claimJob({ nodeId: NODE, queue: 'parts', leaseId })).job!);
    expect(countsOf(await getBatch('nightly'))).toEqual({ QUEUED: 196, RUNNING: 4 });
    await client.updateJobState({ nodeId: NODE, jobId: claimed[0]!.id, newState: JobState.COMPLETED, claim: proof(claimed[0]!) });
    await client.updateJobState({ nodeId: NODE, jobId: claimed[1]!.id, newState: JobState.FAILED, message: 'bad input', claim: proof(claimed[1]!) });
    await client.holdJob({ nodeId: NODE, jobId: claimed[2]!.id });
    const queued = created.jobIds.filter((id) => !claimed.some((job) => job.id === id));
    await client.updateJobState({ nodeId: NODE, jobId: queued[0]!, newState: JobState.CANCELLED });
    await client.updateJobState({ nodeId: NODE, jobId: queued[1]!, newState: JobState.PENDING });
    expect(await getBatch('nightly')).toMatchObject({ total: 200n, completed: false });
    expect(countsOf(await getBatch('nightly'))).toEqual({ PENDING: 1, QUEUED: 194, RUNNING: 1, HELD: 1, COMPLETED: 1, FAILED: 1, CANCELLED: 1 });
    // A job joining the open batch through CreateJob counts too.
    await client.createJob({ nodeId: NODE, job: { batchId: 'nightly', namespace: 'etl' } });
    expect(await getBatch('nightly')).toMatchObject({ total: 201n });
    expect(countsOf(await getBatch('nightly'))).toMatchObject({ PENDING: 2 });
  });

  it('writes exactly one BATCH_COMPLETED, after every job event, when the last jobs end at once', async () => {
    const { client, lease, getBatch } = await start();
    const { jobIds } = await client.createBatch({
      nodeId: NODE,
      batch: { id: 'race' },
      jobs: Array.from({ length: 40 }, (_, i) => ({ id: `race-${i}`, queue: 'race', state: JobState.QUEUED })),
    });
    // All but the last 8 end one after another.
    for (const id of jobIds.slice(0, 32)) await client.updateJobState({ nodeId: NODE, jobId: id, newState: JobState.CANCELLED });
    const leaseId = await lease();
    const claimed: Job[] = [];
    for (let i = 0; i < 8; i++) claimed.push((await client.claimJob({ nodeId: NODE, queue: 'race', leaseId })).job!);
    expect(claimed.map((job) => job.id).sort()).toEqual(jobIds.slice(32).sort());
    expect(await getBatch('race')).toMatchObject({ completed: false });

    const stream = client.watchJobs({ nodeId: NODE })[Symbol.asyncIterator]();
    try {
      // The watch is live once it has reported the current revision.
      expect((await next(stream)).kind.case).toBe('progress');
      const finals = [JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED];
      const ended = await Promise.all(
        claimed.map((job, i) =>
          client.updateJobState({
            nodeId: NODE,
            jobId: job.id,
            newState: finals[i % 3]!,
            message: `final ${i}`,
            ...(finals[i % 3] === JobState.CANCELLED ? {} : { claim: proof(job) }),
          }),
        ),
      );
      const batch = await getBatch('race');
      expect(batch).toMatchObject({ completed: true, total: 40n });
      expect(countsOf(batch)).toEqual({ COMPLETED: 3, FAILED: 3, CANCELLED: 34 });
      expect(batch.completeTime).toBeDefined();

      const seen = await eventsUntilProgress(stream, Number(batch.completeRevision));
      const completions = seen.filter((event) => event.type === JobEventType.BATCH_COMPLETED);
      expect(completions).toHaveLength(1);
      const [completion] = completions;
      expect(completion).toMatchObject({
        batchId: 'race',
        revision: batch.completeRevision,
        message: expect.stringMatching(/batch race completed/),
      });
      // It comes last, after every final job event, and names the job whose end completed the batch.
      const jobEvents = seen.filter((event) => event.type === JobEventType.JOB_STATE_CHANGED);
      expect(jobEvents.map((event) => event.jobId).sort()).toEqual(claimed.map((job) => job.id).sort());
      expect(seen.at(-1)).toEqual(completion);
      expect(jobEvents.every((event) => event.revision < completion!.revision)).toBe(true);
      const lastJobEvent = jobEvents.reduce((latest, event) => (event.revision > latest.revision ? event : latest));
      expect(completion!.jobId).toBe(lastJobEvent.jobId);
      expect(Math.max(...ended.map((response) => Number(response.job!.revision)))).toBe(Number(lastJobEvent.revision));
    } finally {
      await stream.return?.();
    }
    // The whole history holds it once, and a completed batch takes no more jobs.
    const all = await historyFrom(client, NODE);
    expect(all.filter((event) => event.type === JobEventType.BATCH_COMPLETED)).toHaveLength(1);
    await expect(client.createJob({ nodeId: NODE, job: { batchId: 'race' } })).rejects.toEqual(failsWith('FAILED_PRECONDITION', 'race', 'no more jobs'));
  });

  it('lists batches a page at a time, oldest first, by namespace', async () => {
    const { client } = await start();
    const ids: string[] = [];
    for (const [i, namespace] of ['a', 'b', 'a', 'a', 'b'].entries()) {
      ids.push((await client.createBatch({ nodeId: NODE, batch: { id: `batch-${i}`, namespace }, jobs: [{}] })).batch!.id);
    }
    const first = await client.listBatches({ nodeId: NODE, pageSize: 2 });
    expect(first.batches.map((batch) => batch.id)).toEqual(['batch-0', 'batch-1']);
    const second = await client.listBatches({ nodeId: NODE, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.batches.map((batch) => batch.id)).toEqual(['batch-2', 'batch-3']);
    const third = await client.listBatches({ nodeId: NODE, pageSize: 2, pageToken: second.nextPageToken });
    expect(third.batches.map((batch) => batch.id)).toEqual(['batch-4']);
    expect(third.nextPageToken).toBe('');
    expect(third.batches[0]).toEqual(await client.getBatch({ nodeId: NODE, batchId: 'batch-4' }).then((got) => got.batch));

    const inA = await client.listBatches({ nodeId: NODE, namespace: 'a', pageSize: 2 });
    expect(inA.batches.map((batch) => batch.id)).toEqual(['batch-0', 'batch-2']);
    const restOfA = await client.listBatches({ nodeId: NODE, namespace: 'a', pageSize: 2, pageToken: inA.nextPageToken });
    expect(restOfA.batches.map((batch) => batch.id)).toEqual(['batch-3']);
    expect(restOfA.nextPageToken).toBe('');
    // A token belongs to its query.
    await expect(client.listBatches({ nodeId: NODE, namespace: 'b', pageSize: 2, pageToken: inA.nextPageToken })).rejects.toEqual(
      failsWith('INVALID_ARGUMENT'),
    );
  });

  it('reports the FAILED jobs of a batch with their messages, oldest first, a page at a time', async () => {
    const { client, leases, lease } = await start();
    const { jobIds } = await client.createBatch({
      nodeId: NODE,
      batch: { id: 'report' },
      jobs: Array.from({ length: 6 }, (_, i) => ({ id: `r-${i}`, name: `job-${i}`, queue: 'r', state: JobState.QUEUED, retryPolicy: { maxRetries: 0 } })),
    });
    const leaseId = await lease();
    // r-1 and r-3 fail at their claimer's word; r-4 fails as its lease ends with no retries left.
    for (const id of ['r-0', 'r-1', 'r-2', 'r-3']) {
      const job = (await client.claimJob({ nodeId: NODE, queue: 'r', leaseId, worker: 'w' })).job!;
      expect(job.id).toBe(id);
      const failed = id === 'r-1' || id === 'r-3';
      await client.updateJobState({
        nodeId: NODE,
        jobId: id,
        newState: failed ? JobState.FAILED : JobState.COMPLETED,
        message: failed ? `${id} hit a corrupt record` : '',
        claim: proof(job),
      });
    }
    const shortLived = await lease();
    expect((await client.claimJob({ nodeId: NODE, queue: 'r', leaseId: shortLived, worker: 'lost' })).job?.id).toBe('r-4');
    await leases.revoke({ leaseId: shortLived });
    await eventually(async () => (await client.getJob({ nodeId: NODE, key: { case: 'id', value: 'r-4' } })).job!.state === JobState.FAILED);

    const page = await client.getBatchReport({ nodeId: NODE, batchId: 'report', pageSize: 2 });
    expect(countsOf(page.batch)).toEqual({ QUEUED: 1, COMPLETED: 2, FAILED: 3 });
    expect(page.batch).toMatchObject({ id: 'report', total: 6n, completed: false });
    expect(page.failedJobs).toEqual([
      expect.objectContaining({ jobId: 'r-1', name: 'job-1', queue: 'r', stateMessage: 'r-1 hit a corrupt record', retryCount: 0 }),
      expect.objectContaining({ jobId: 'r-3', name: 'job-3', queue: 'r', stateMessage: 'r-3 hit a corrupt record', retryCount: 0 }),
    ]);
    expect(page.failedJobs[0]!.failTime).toBeDefined();
    const rest = await client.getBatchReport({ nodeId: NODE, batchId: 'report', pageSize: 2, pageToken: page.nextPageToken });
    expect(rest.failedJobs).toEqual([
      expect.objectContaining({ jobId: 'r-4', stateMessage: expect.stringMatching(`lease ${shortLived} of lost ended.*out of retries`) }),
    ]);
    expect(rest.nextPageToken).toBe('');

    // The last live job ends: the batch completes, and the report says so.
    await client.updateJobState({ nodeId: NODE, jobId: jobIds[5]!, newState: JobState.CANCELLED });
    const final = await client.getBatchReport({ nodeId: NODE, batchId: 'report' });
    expect(final.batch).toMatchObject({ completed: true });
    expect(final.failedJobs.map((job) => job.jobId)).toEqual(['r-1', 'r-3', 'r-4']);
    await expect(client.getBatchReport({ nodeId: NODE, batchId: 'nope' })).rejects.toEqual(failsWith('NOT_FOUND', 'nope'));
  });

  it('applies dedupe keys inside a batch: returns the live job in its place, or refuses the whole batch', async () => {
    const { client } = await start();
    const { job: live } = await client.createJob({ nodeId: NODE, job: { dedupeKey: 'k-2', queue: 'q', state: JobState.QUEUED } });
    const jobs = [{ dedupeKey: 'k-1' }, { dedupeKey: 'k-2' }, { dedupeKey: 'k-3' }];

    const before = await historyFrom(client, NODE);
    await expect(client.createBatch({ nodeId: NODE, batch: { id: 'strict' }, jobs })).rejects.toEqual(failsWith('ALREADY_EXISTS', 'k-2', live!.id));
    await expect(client.getBatch({ nodeId: NODE, batchId: 'strict' })).rejects.toEqual(failsWith('NOT_FOUND', 'strict'));
    expect(await historyFrom(client, NODE)).toEqual(before);

    const lenient = await client.createBatch({ nodeId: NODE, batch: { id: 'lenient' }, jobs, onDuplicate: OnDuplicate.RETURN_EXISTING });
    expect(lenient.jobIds).toHaveLength(3);
    expect(lenient.jobIds[1]).toBe(live!.id);
    // The live job is not moved into the batch.
    expect((await client.getJob({ nodeId: NODE, key: { case: 'id', value: live!.id } })).job).toEqual(live);
    expect(lenient.batch).toMatchObject({ total: 2n });
  });

  it('refuses bad batches with INVALID_ARGUMENT naming the job, creating nothing', async () => {
    const { client } = await start();
    // The database exists, so that "nothing created" is a fact about this batch.
    await client.createJob({ nodeId: NODE, job: { id: 'bystander' } });
    const before = await historyFrom(client, NODE);
    const good = Array.from({ length: 9 }, () => ({ queue: 'q', state: JobState.QUEUED }));
    const refused: [string, Parameters<typeof client.createBatch>[0]['jobs'], ReturnType<typeof failsWith>][] = [
      ['bad-queue', good.map((job, i) => (i === 3 ? { ...job, queue: 'no spaces allowed' } : job)), failsWith('INVALID_ARGUMENT', 'jobs[3]', 'queue')],
      ['bad-state', good.map((job, i) => (i === 7 ? { ...job, state: JobState.COMPLETED } : job)), failsWith('INVALID_ARGUMENT', 'jobs[7]', 'COMPLETED')],
      ['bad-enum', good.map((job, i) => (i === 5 ? { ...job, state: 42 as JobState } : job)), failsWith('INVALID_ARGUMENT', 'jobs[5]', 'state')],
      ['bad-id', good.map((job, i) => (i === 8 ? { ...job, id: '../escape' } : job)), failsWith('INVALID_ARGUMENT', 'jobs[8]')],
      ['too-many', Array.from({ length: 10_001 }, () => ({})), failsWith('INVALID_ARGUMENT', '10000', '10001')],
    ];
    for (const [batchId, jobs, refusal] of refused) {
      await expect(client.createBatch({ nodeId: NODE, batch: { id: batchId }, jobs })).rejects.toEqual(refusal);
      await expect(client.getBatch({ nodeId: NODE, batchId })).rejects.toEqual(failsWith('NOT_FOUND', batchId));
      expect((await client.listJobs({ nodeId: NODE, batchId })).jobs).toEqual([]);
    }
    await expect(client.createBatch({ nodeId: NODE, batch: { id: 'bad id!' }, jobs: good })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'batch.id'));
    expect((await client.listJobs({ nodeId: NODE })).jobs.map((job) => job.id)).toEqual(['bystander']);
    expect((await client.listBatches({ nodeId: NODE })).batches).toEqual([]);
    expect(await historyFrom(client, NODE)).toEqual(before);

    // The limit itself is allowed; a batch id is used once; a retried request returns the first batch.
    const full = await client.createBatch({ nodeId: NODE, batch: { id: 'full' }, jobs: Array.from({ length: 10_000 }, () => ({})), requestId: 'full-1' });
    expect(full.batch).toMatchObject({ id: 'full', total: 10_000n });
    const retried = await client.createBatch({ nodeId: NODE, batch: { id: 'full' }, jobs: Array.from({ length: 10_000 }, () => ({})), requestId: 'full-1' });
    expect(retried.jobIds).toEqual(full.jobIds);
    expect(retried.batch).toEqual(full.batch);
    await expect(client.createBatch({ nodeId: NODE, batch: { id: 'full' }, jobs: [{}] })).rejects.toEqual(failsWith('ALREADY_EXISTS', 'full'));
    await expect(client.getBatch({ nodeId: NODE, batchId: '' })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'batch_id'));
    await expect(client.getBatch({ nodeId: 'nobody', batchId: 'full' })).rejects.toEqual(failsWith('NOT_FOUND', 'nobody'));
  });

  it('takes a full batch of 1 KB jobs in one message, and refuses one past --max-message-bytes with RESOURCE_EXHAUSTED', async () => {
    const { client } = await start();
    const padded = (bytes: number) => Array.from({ length: 10_000 }, (_, i) => ({ spec: { n: i, pad: 'x'.repeat(bytes) } }));
    // About 10 MiB: past grpc-js's 4 MiB default, within the server's 16 MiB.
    const big = await client.createBatch({ nodeId: NODE, batch: { id: 'big' }, jobs: padded(1000) });
    expect(big.batch).toMatchObject({ id: 'big', total: 10_000n });
    // About 20 MiB: refused before it reaches the store, which is left as it was.
    await expect(client.createBatch({ nodeId: NODE, batch: { id: 'huge' }, jobs: padded(2000) })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await expect(client.getBatch({ nodeId: NODE, batchId: 'huge' })).rejects.toEqual(failsWith('NOT_FOUND', 'huge'));
  });
});
