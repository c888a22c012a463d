import { JobState } from '@jobkeep/api';
import { createJobStoreClient, createLeaseClient, createLockClient, type JobStoreClient } from '@jobkeep/client';
import { MAX_BATCH_JOBS } from '@jobkeep/store';
import { casesOf, type LoadCase } from './load-case.js';
import { lockCases } from './lock-cases.js';
import type { ServerProcess } from './server-process.js';

/** Jobs per CreateBatch call in the bulk case. */
const BATCH_JOBS = 1_000;
/** Jobs queued for the claims at each in-flight count: a run stops early when they run out. */
const CLAIM_JOBS = Number(process.env.JOBKEEP_BENCH_CLAIM_JOBS ?? '50000');
/** Waits for a contended lock, and batches at 64 in flight, take longer than the default 10 s deadline allows under load. */
const LONG_DEADLINE = { deadlineMs: 120_000 };
const LEASE_TTL = { ttlSeconds: 600n };

/** The clients `jobkeepCases` calls through, one channel each; the caller closes them. */
export function jobkeepClients(address: string) {
  return { jobs: createJobStoreClient(address), leases: createLeaseClient(address), locks: createLockClient(address) };
}

export type JobkeepClients = ReturnType<typeof jobkeepClients>;

/** The job every create sends, to jobkeep and to the echo server alike (and, as JSON, to etcd). */
export function benchJob(i: number) {
  return { labels: { shard: `s${i % 8}` }, state: JobState.QUEUED, spec: { image: 'bench:1', args: ['--n', String(i)] } };
}

/** The ceiling: CreateJob with the same client and request, answered by the echo server without storage. */
export function echoCase(echo: ServerProcess, client: JobStoreClient): LoadCase {
  return {
    system: 'echo',
    operation: 'CreateJob',
    description: 'CreateJob answered without storage (bare grpc-js and the bridge)',
    serverPid: echo.child.pid!,
    prepare: async () => ({ operation: (i) => client.createJob({ nodeId: 'echo', job: benchJob(i) }) }),
  };
}

/**
 * jobkeep's calls, each against the server in its own process with its defaults (synchronous=FULL:
 * a write is answered once it is fsynced). Each in-flight count writes to node databases of its own.
 */
export function jobkeepCases(jobkeep: ServerProcess, clients: JobkeepClients): LoadCase[] {
  const { jobs, leases, locks } = clients;
  const grantLeases = async (count: number) => Promise.all(Array.from({ length: count }, async () => (await leases.grant(LEASE_TTL)).lease!.id));
  const revokeLeases = async (ids: bigint[]) => {
    await Promise.all(ids.map((leaseId) => leases.revoke({ leaseId })));
  };
  return casesOf('jobkeep', jobkeep.child.pid!, [
    {
      operation: 'CreateJob',
      description: 'CreateJob, durable',
      prepare: async (c) => ({ operation: (i) => jobs.createJob({ nodeId: `create-${c}`, job: benchJob(i) }) }),
    },
    {
      operation: 'GetJob',
      description: 'GetJob by id',
      prepare: async (c) => {
        const nodeId = `get-${c}`;
        const ids = await createJobs(jobs, nodeId, '', 1_000);
        return { operation: (i) => jobs.getJob({ nodeId, key: { case: 'id', value: ids[(i * 7919) % ids.length]! } }) };
      },
    },
    {
      operation: 'UpdateJobState',
      description: 'UpdateJobState PENDING⇄HELD, one job per caller, durable',
      prepare: async (c) => {
        const nodeId = `update-${c}`;
        const owned = await Promise.all(
          Array.from({ length: c }, async (_, k) => ({ id: (await jobs.createJob({ nodeId, job: { ...benchJob(k), state: JobState.PENDING } })).job!.id, held: false })),
        );
        return {
          operation: async (_, caller) => {
            const job = owned[caller]!;
            job.held = !job.held;
            await jobs.updateJobState({ nodeId, jobId: job.id, newState: job.held ? JobState.HELD : JobState.PENDING });
          },
        };
      },
    },
    {
      operation: 'ClaimJob',
      description: `ClaimJob from a queue of up to ${CLAIM_JOBS.toLocaleString('en')}, durable`,
      prepare: async (c) => {
        const nodeId = `claim-${c}`;
        await createJobs(jobs, nodeId, 'work', CLAIM_JOBS);
        const [leaseId] = await grantLeases(1);
        return {
          maxOps: CLAIM_JOBS,
          operation: async () => {
            const { job } = await jobs.claimJob({ nodeId, queue: 'work', leaseId: leaseId!, worker: 'bench' });
            if (job === undefined) throw new Error(`ClaimJob on ${nodeId} handed out no job`);
          },
          finish: () => revokeLeases([leaseId!]),
        };
      },
    },
    {
      operation: 'CreateBatch',
      description: `CreateBatch of ${BATCH_JOBS.toLocaleString('en')} jobs, durable`,
      itemsPerOp: BATCH_JOBS,
      prepare: async (c) => ({
        operation: (i) =>
          jobs.createBatch({ nodeId: `batch-${c}`, jobs: Array.from({ length: BATCH_JOBS }, (_, k) => benchJob(i * BATCH_JOBS + k)) }, LONG_DEADLINE),
      }),
    },
    ...lockCases({
      verbs: ['Acquire', 'Release'],
      grantLeases,
      revokeLeases,
      takeAndGive: async (name, leaseId, wait) => {
        const { fencingToken } = await locks.acquire({ name, leaseId, wait }, LONG_DEADLINE);
        await locks.release({ name, leaseId, fencingToken });
      },
    }),
  ]);
}

/** Creates `count` QUEUED jobs in `queue` with as few CreateBatch calls as the batch limit allows. */
async function createJobs(jobs: JobStoreClient, nodeId: string, queue: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < count; from += MAX_BATCH_JOBS) {
    const batch = Array.from({ length: Math.min(MAX_BATCH_JOBS, count - from) }, (_, k) => ({ ...benchJob(from + k), queue }));
    ids.push(...(await jobs.createBatch({ nodeId, jobs: batch }, LONG_DEADLINE)).jobIds);
  }
  return ids;
}
