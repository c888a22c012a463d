import type { Job, JobExecution } from '@jobkeep/api';
import { JobkeepError, attemptOf, type JobStoreClient } from '@jobkeep/client';

/** A job named on the command line by its id or a unique prefix of it. */
export async function resolveJob(jobs: JobStoreClient, nodeId: string, key: string): Promise<Job> {
  try {
    return (await jobs.getJob({ nodeId, key: { case: 'id', value: key } })).job!;
  } catch (error) {
    if (!(error instanceof JobkeepError && error.code === 'NOT_FOUND')) throw error;
  }
  try {
    return (await jobs.getJob({ nodeId, key: { case: 'idPrefix', value: key } })).job!;
  } catch (error) {
    if (error instanceof JobkeepError && error.code === 'NOT_FOUND') {
      throw new JobkeepError('NOT_FOUND', `requester ${nodeId} has no job ${key}`);
    }
    throw error;
  }
}

/** Every execution of a job in the requester's view, by attempt. */
export async function jobExecutions(jobs: JobStoreClient, nodeId: string, jobId: string): Promise<JobExecution[]> {
  const executions: JobExecution[] = [];
  let pageToken = '';
  do {
    const page = await jobs.listExecutions({ nodeId, jobId, pageSize: 1000, pageToken });
    executions.push(...page.executions);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return executions.sort((a, b) => attemptOf(a.id) - attemptOf(b.id));
}
