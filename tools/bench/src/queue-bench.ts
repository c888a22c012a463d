import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient, createLeaseClient, type JobStoreClient, type LeaseServiceClient } from '@jobkeep/client';
import { MAX_BATCH_JOBS, openStorage, type Storage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';
import { withJobkeepAndEcho } from './server-process.js';

/** Queue depths at which claims are measured, in one growing queue. */
const DEPTHS = [1_000, 10_000, 100_000];
const QUEUE = 'work';
/** A second queue of the same database, holding 1,000 jobs once `QUEUE` holds 100,000. */
const SMALL_QUEUE = 'small';
const PRIORITIES = 10;
/** Jobs read, claimed and completed in a queue of their own before the first depth, unmeasured. */
const WARMUP_JOBS = 1_000;
/** Jobs per CreateBatch call in the bulk case. */
const BATCH_SIZES = [1_000, MAX_BATCH_JOBS];
/** CreateBatch of 10,000 jobs through gRPC may take a while; the client's default deadline is 10 s. */
const BATCH_DEADLINE_MS = 120_000;

export interface QueueBenchResults {
  /** ClaimJob at each depth, beside GetJob and completing the claimed jobs at the same depth. */
  claims: Measurement[];
  /** CreateBatch of 1,000 and 10,000 jobs beside single CreateJob calls, with jobs per operation. */
  bulk: Measurement[];
}

/**
 * Work queues (issue 5): what ClaimJob costs as one queue grows from 1,000 to 100,000 QUEUED
 * jobs over ten priorities, and how many jobs per second CreateBatch writes. Both in process
 * against the store and through gRPC against the server in its own process, every figure beside
 * its baselines at the same depth: GetJob by id (a read whose cost does not depend on the queue)
 * and UpdateJobState RUNNING→COMPLETED of a claimed job (one durable write of the same row, as
 * a claim is); for bulk, single CreateJob calls.
 *
 * At each depth D the queue holds D + warm-up + measured claims before the warm-up, so the
 * measured claims run while it holds D + 500 down to D jobs. Before the first depth, 1,000 jobs
 * of another queue are read, claimed and completed unmeasured, so that the depths are not told
 * apart by how warm the code is. After the last depth, claims from a second queue of 1,000 jobs
 * in the same database tell the queue's depth apart from the database's size. The store's rows
 * give this process's CPU per operation (the store runs in it); the gRPC rows the server's.
 */
export async function queueBench(scale: number): Promise<QueueBenchResults> {
  const claimOps = 500 * scale;
  const claims: Measurement[] = [];
  const bulk: Measurement[] = [];

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-queues-'));
  const storage = openStorage({ dataDir });
  try {
    claims.push(...(await claimsByDepth(storeQueues(storage, 'queue-bench'), 'store', process.pid, claimOps)));
    claims.push(...(await claimsPastBackoffs(storage, claimOps)));
    bulk.push(...(await storeBulk(storage, scale)));
  } finally {
    storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  await withJobkeepAndEcho(async ({ jobkeep }) => {
    const client = createJobStoreClient(jobkeep.address);
    const leases = createLeaseClient(jobkeep.address);
    const serverPid = jobkeep.child.pid!;
    try {
      claims.push(...(await claimsByDepth(grpcQueues(client, leases, 'queue-grpc'), 'gRPC', serverPid, claimOps)));
      bulk.push(...(await grpcBulk(client, serverPid, scale)));
    } finally {
      client.close();
      leases.close();
    }
  });
  return { claims, bulk };
}

/** One job as the queues are filled with it: the same shape whether created alone or in a batch. */
function newJob(i: number, queue: string) {
  return { queue, priority: i % PRIORITIES, labels: { shard: `s${i % 16}` }, spec: { image: 'bench:1', args: ['--n', String(i)] } };
}

const wireJob = (i: number, queue: string) => ({ ...newJob(i, queue), state: JobState.QUEUED });
const storeJob = (i: number, queue: string) => ({ ...newJob(i, queue), state: 'QUEUED' as const });

/** The calls the claim case makes, in process or through gRPC. */
interface Queues {
  /** Creates `count` QUEUED jobs in `queue` with CreateBatch, numbered from `from`; returns their ids. */
  fill(queue: string, from: number, count: number): Promise<string[]>;
  grant(): Promise<number>;
  revoke(leaseId: number): Promise<void>;
  /** Claims the head of `queue`; throws when nothing was handed out. */
  claim(queue: string, leaseId: number): Promise<{ id: string; token: number }>;
  get(id: string): Promise<unknown>;
  complete(id: string, leaseId: number, token: number): Promise<unknown>;
}

function storeQueues(storage: Storage, node: string): Queues {
  return {
    fill: async (queue, from, count) =>
      (await storage.batches.createBatch(node, { jobs: Array.from({ length: count }, (_, k) => storeJob(from + k, queue)) })).jobIds,
    grant: async () => (await storage.leaseStore.grant(60)).id,
    revoke: (leaseId) => storage.leaseStore.revoke(leaseId),
    claim: async (queue, leaseId) => {
      const { job } = await storage.workQueues.claimJob(node, { queue, leaseId, worker: 'bench' });
      if (job?.claim === undefined) throw new Error(`ClaimJob on ${queue} handed out no job`);
      return { id: job.id, token: job.claim.token };
    },
    get: (id) => storage.jobStore.getJob(node, { id }),
    complete: (id, leaseId, token) => storage.jobStore.updateJobState(node, { jobId: id, newState: 'COMPLETED', claim: { leaseId, token } }),
  };
}

function grpcQueues(client: JobStoreClient, leases: LeaseServiceClient, nodeId: string): Queues {
  return {
    fill: async (queue, from, count) =>
      (await client.createBatch({ nodeId, jobs: Array.from({ length: count }, (_, k) => wireJob(from + k, queue)) }, { deadlineMs: BATCH_DEADLINE_MS }))
        .jobIds,
    grant: async () => Number((await leases.grant({ ttlSeconds: 60n })).lease!.id),
    revoke: async (leaseId) => {
      await leases.revoke({ leaseId: BigInt(leaseId) });
    },
    claim: async (queue, leaseId) => {
      const { job } = await client.claimJob({ nodeId, queue, leaseId: BigInt(leaseId), worker: 'bench' });
      if (job?.claim === undefined) throw new Error(`ClaimJob on ${queue} handed out no job`);
      return { id: job.id, token: Number(job.claim.token) };
    },
    get: (id) => client.getJob({ nodeId, key: { case: 'id', value: id } }),
    complete: (id, leaseId, token) =>
      client.updateJobState({ nodeId, jobId: id, newState: JobState.COMPLETED, claim: { leaseId: BigInt(leaseId), token: BigInt(token) } }),
  };
}

async function claimsByDepth(queues: Queues, label: string, cpuPid: number, claimOps: number): Promise<Measurement[]> {
  const warmup = 100;
  const options = { ops: claimOps, warmup, concurrency: 1, serverPid: cpuPid };
  const results: Measurement[] = [];
  const ids: string[] = [];
  let created = 0;
  const fill = async (queue: string, count: number) => {
    for (let left = count; left > 0; ) {
      const chunk = Math.min(MAX_BATCH_JOBS, left);
      ids.push(...(await queues.fill(queue, created, chunk)));
      created += chunk;
      left -= chunk;
    }
  };
  /** Claims warm-up + ops jobs of `queue` (the measured ones timed), then returns them all. */
  const claimAll = async (name: string, queue: string, leaseId: number) => {
    const claimed: { id: string; token: number }[] = [];
    const measurement = await measure(name, options, async () => claimed.push(await queues.claim(queue, leaseId)));
    return { measurement, claimed };
  };

  // Warm-up, unmeasured: the same calls on a queue of their own.
  await fill('warmup', WARMUP_JOBS);
  const warmLease = await queues.grant();
  for (let i = 0; i < WARMUP_JOBS; i++) {
    await queues.get(ids[i]!);
    const { id, token } = await queues.claim('warmup', warmLease);
    await queues.complete(id, warmLease, token);
  }
  await queues.revoke(warmLease);

  let queued = 0;
  for (const depth of DEPTHS) {
    const depthName = `${depth.toLocaleString('en')} queued`;
    // Top the queue up to depth + what the warm-up and the measured claims take out.
    const target = depth + warmup + claimOps;
    await fill(QUEUE, target - queued);
    const leaseId = await queues.grant();
    const { measurement, claimed } = await claimAll(`${label} ClaimJob, ${depthName}`, QUEUE, leaseId);
    results.push(measurement);
    queued = target - claimed.length;
    results.push(await measure(`baseline: ${label} GetJob by id, ${depthName}`, options, (i) => queues.get(ids[(i * 7919) % ids.length]!)));
    let next = 0;
    results.push(
      await measure(`baseline: ${label} UpdateJobState RUNNING→COMPLETED (claimed job), ${depthName}`, options, () => {
        const { id, token } = claimed[next++]!;
        return queues.complete(id, leaseId, token);
      }),
    );
    await queues.revoke(leaseId);
  }

  // Control: the database as large as at the last depth, a queue of 1,000.
  await fill(SMALL_QUEUE, 1_000 + warmup + claimOps);
  const leaseId = await queues.grant();
  const last = DEPTHS[DEPTHS.length - 1]!.toLocaleString('en');
  const { measurement, claimed } = await claimAll(`control: ${label} ClaimJob, 1,000 queued in a second queue (${last} in the first)`, SMALL_QUEUE, leaseId);
  results.push(measurement);
  for (const { id, token } of claimed) await queues.complete(id, leaseId, token);
  await queues.revoke(leaseId);
  return results;
}

/** Jobs waiting out a backoff ahead of the ready ones in `claimsPastBackoffs`. */
const IN_BACKOFF = 10_000;

/**
 * A mass failure: 10,000 jobs of the highest priority given back for a retry, their backoffs an
 * hour long, ahead of the ready jobs in the queue. Claims of the ready jobs beside claims from
 * the same kind of queue with nothing in backoff, in a database of its own.
 */
async function claimsPastBackoffs(storage: Storage, claimOps: number): Promise<Measurement[]> {
  const options = { ops: claimOps, warmup: 100, concurrency: 1, serverPid: process.pid };
  const ready = claimOps + options.warmup;
  const results: Measurement[] = [];
  for (const backlog of [0, IN_BACKOFF]) {
    const queues = storeQueues(storage, `backoff-bench-${backlog}`);
    const leaseId = await queues.grant();
    const slow = { retryPolicy: { backoffMs: 3_600_000, maxBackoffMs: 3_600_000 } };
    for (let from = 0; from < backlog; from += MAX_BATCH_JOBS) {
      const jobs = Array.from({ length: Math.min(MAX_BATCH_JOBS, backlog - from) }, (_, k) => ({ ...storeJob(from + k, QUEUE), priority: PRIORITIES, ...slow }));
      await storage.batches.createBatch(`backoff-bench-${backlog}`, { jobs });
    }
    for (let i = 0; i < backlog; i++) {
      const { id, token } = await queues.claim(QUEUE, leaseId);
      await storage.jobStore.updateJobState(`backoff-bench-${backlog}`, { jobId: id, newState: 'QUEUED', claim: { leaseId, token } });
    }
    await queues.fill(QUEUE, backlog, ready);
    const name = backlog === 0 ? 'baseline: store ClaimJob, no job in backoff' : `store ClaimJob past ${backlog.toLocaleString('en')} jobs in backoff at the head`;
    results.push(await measure(name, options, () => queues.claim(QUEUE, leaseId)));
  }
  return results;
}

async function storeBulk(storage: Storage, scale: number): Promise<Measurement[]> {
  const node = 'bulk-bench';
  const results: Measurement[] = [];
  let n = 0;
  results.push(
    await measure('baseline: store CreateJob, one job per call', { ops: 2000 * scale, warmup: 200, concurrency: 1, serverPid: process.pid, itemsPerOp: 1 }, () =>
      storage.jobStore.createJob(node, storeJob(n++, 'bulk')),
    ),
  );
  for (const size of BATCH_SIZES) {
    const calls = Math.max(5, Math.round((20_000 * scale) / size));
    results.push(
      await measure(`store CreateBatch, ${size.toLocaleString('en')} jobs per call`, { ops: calls, warmup: 1, concurrency: 1, serverPid: process.pid, itemsPerOp: size }, () => {
        const jobs = Array.from({ length: size }, () => storeJob(n++, 'bulk'));
        return storage.batches.createBatch(node, { jobs });
      }),
    );
  }
  return results;
}

async function grpcBulk(client: JobStoreClient, serverPid: number, scale: number): Promise<Measurement[]> {
  const nodeId = 'bulk-grpc';
  const results: Measurement[] = [];
  let n = 0;
  for (const concurrency of [1, 16]) {
    results.push(
      await measure(
        `baseline: gRPC CreateJob, one job per call, ${concurrency} in flight`,
        { ops: 2000 * scale, warmup: 500, concurrency, serverPid, itemsPerOp: 1 },
        () => client.createJob({ nodeId, job: wireJob(n++, 'bulk') }),
      ),
    );
  }
  for (const size of BATCH_SIZES) {
    const calls = Math.max(5, Math.round((20_000 * scale) / size));
    results.push(
      await measure(`gRPC CreateBatch, ${size.toLocaleString('en')} jobs per call`, { ops: calls, warmup: 1, concurrency: 1, serverPid, itemsPerOp: size }, () => {
        const jobs = Array.from({ length: size }, () => wireJob(n++, 'bulk'));
        return client.createBatch({ nodeId, jobs }, { deadlineMs: BATCH_DEADLINE_MS });
      }),
    );
  }
  return results;
}
