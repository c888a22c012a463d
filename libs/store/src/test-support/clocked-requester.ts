import { expect } from 'vitest';
import type { CreateBatchInput } from '../batch-store.js';
import { checkNodeDatabase } from '../consistency-check.js';
import type { Job, JobEvent } from '../job-model.js';
import type { Storage } from '../storage.js';
import { useTempStorage } from './temp-storage.js';

/** The requester node of the tests that use these helpers, and the time their clocks start at. */
export const NODE = 'requester-1';
export const T0 = 1_700_000_000_000;

/** A fresh store per test whose clock the test sets, starting at T0. */
export function useClockedStorage(): () => { storage: Storage; clock: { now: number } } {
  const temp = useTempStorage('perTest');
  return () => {
    const clock = { now: T0 };
    const storage = temp.open({ clock: () => clock.now });
    return { storage, clock };
  };
}

export const jobsOf = (count: number, extra: CreateBatchInput['jobs'][number] = {}): CreateBatchInput['jobs'] =>
  Array.from({ length: count }, () => ({ state: 'QUEUED' as const, ...extra }));

export const getJob = (storage: Storage, jobId: string) => storage.jobStore.getJob(NODE, { id: jobId });

export async function allHistory(storage: Storage): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  let pageToken: string | undefined;
  do {
    const page = await storage.jobStore.getJobHistory(NODE, { pageSize: 1000, pageToken });
    events.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return events;
}

export const batchCompletions = async (storage: Storage) => (await allHistory(storage)).filter((event) => event.type === 'BATCH_COMPLETED');

/** Every job of NODE, a page at a time. */
export async function allJobs(storage: Storage): Promise<Job[]> {
  const jobs: Job[] = [];
  let pageToken: string | undefined;
  do {
    const page = await storage.jobStore.listJobs(NODE, { pageSize: 1000, pageToken });
    jobs.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return jobs;
}

export const allJobIds = async (storage: Storage): Promise<string[]> => (await allJobs(storage)).map((job) => job.id);

/** The consistency check, which also compares each batch's counts and completion with its jobs. */
export function expectConsistent(storage: Storage): void {
  expect(checkNodeDatabase('requester', storage.locations.nodeDatabasePath('requester', NODE))).toEqual([]);
}
