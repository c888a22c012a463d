import { ExecutionState, JobState, type Job } from '@jobkeep/api';
import { createExecutionStoreClient, createJobStoreClient, isJobkeepError, type ExecutionStoreClient, type JobStoreClient } from '@jobkeep/client';
import { LocalCluster, eventually } from '@jobkeep/testing';
import { afterEach } from 'vitest';

export const REQUESTER = 'requester-1';

/** A cluster per test, stopped (every process it started) after the test, with clients of its server. */
export function useCluster(): () => Promise<{ cluster: LocalCluster; jobs: JobStoreClient; executions: ExecutionStoreClient }> {
  const started: { cluster: LocalCluster; close: () => void }[] = [];
  afterEach(async () => {
    for (const { cluster, close } of started.splice(0)) {
      close();
      await cluster.stop();
    }
  });
  return async () => {
    // Leases end fast, so that a killed agent is noticed within seconds.
    const cluster = await LocalCluster.start(['--lease-sweep-interval-ms', '100']);
    const jobs = createJobStoreClient(cluster.address);
    const executions = createExecutionStoreClient(cluster.address);
    started.push({ cluster, close: () => (jobs.close(), executions.close()) });
    return { cluster, jobs, executions };
  };
}

/** Every job of the requester's database, page by page. */
export async function allJobs(jobs: JobStoreClient, nodeId = REQUESTER): Promise<Job[]> {
  const all: Job[] = [];
  let pageToken = '';
  do {
    const page = await jobs.listJobs({ nodeId, pageSize: 1000, pageToken });
    all.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all;
}

const TERMINAL = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]);

/** Waits until every job of the requester has ended; returns them. */
export async function untilAllEnded(jobs: JobStoreClient, timeoutMs: number): Promise<Job[]> {
  let last: Job[] = [];
  await eventually(
    async () => {
      last = await allJobs(jobs);
      return last.length > 0 && last.every((job) => TERMINAL.has(job.state));
    },
    { timeoutMs, intervalMs: 250, what: 'every job ending' },
  );
  return last;
}

/**
 * How many times each job was run on the given compute nodes: the executions whose history shows
 * them reaching RUNNING, counted per job over every node's compute database.
 */
export async function runsPerJob(executions: ExecutionStoreClient, computeNodes: readonly string[]): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  for (const nodeId of computeNodes) {
    let pageToken = '';
    do {
      const page = await executions.getExecutionHistory({ nodeId, pageSize: 1000, pageToken }).catch((error: unknown) => {
        // A node that was never asked for a bid has no database.
        if (isJobkeepError(error, 'NOT_FOUND')) return { events: [], nextPageToken: '' };
        throw error;
      });
      for (const event of page.events) {
        if (event.newState === ExecutionState.RUNNING) runs.set(event.jobId, (runs.get(event.jobId) ?? 0) + 1);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  }
  return runs;
}

/** The compute nodes that ran at least one execution of a job, from their histories. */
export async function nodesThatRan(executions: ExecutionStoreClient, computeNodes: readonly string[], jobId: string): Promise<string[]> {
  const ran: string[] = [];
  for (const nodeId of computeNodes) {
    const runs = await runsPerJob(executions, [nodeId]);
    if ((runs.get(jobId) ?? 0) > 0) ran.push(nodeId);
  }
  return ran;
}
