import { JobState } from '@jobkeep/api';
import type { JobStoreClient } from '@jobkeep/client';

/** The states of jobs a requester may still have to act on (HELD jobs wait for an operator). */
export const NON_TERMINAL_JOB_STATES = [JobState.PENDING, JobState.QUEUED, JobState.RUNNING];

/**
 * Crash recovery: every non-terminal job of the requester's database is reconciled once, as
 * if an event had come for it, before any new placement. Reconciling reads the job's
 * executions, so the live ones count against their nodes' slots again, an execution whose
 * compute-side create may have been lost is created again under its own id, and every job
 * picks up where its history says it is. Resolves to the number of jobs, once each has been
 * reconciled (or tried: a failure is retried by the queue).
 */
export async function rescanJobs(
  jobs: Pick<JobStoreClient, 'listJobs'>,
  nodeId: string,
  reconcile: (jobId: string) => Promise<void>,
): Promise<number> {
  const done: Promise<void>[] = [];
  let pageToken = '';
  do {
    const page = await jobs.listJobs({ nodeId, states: NON_TERMINAL_JOB_STATES, pageSize: 1000, pageToken });
    for (const job of page.jobs) done.push(reconcile(job.id));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  await Promise.all(done);
  return done.length;
}
