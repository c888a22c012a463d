import { JobState, type JobEvent, type WatchJobsResponse } from '@jobkeep/api';
import type { JobStoreClient } from '@jobkeep/client';

export type WatchStream = AsyncIterator<WatchJobsResponse>;

/**
 * A varied history: per job a create, state changes, an execution and its update, an update
 * of the job, and for every third job a deletion. Returns the last revision written.
 */
export async function writeHistory(client: JobStoreClient, nodeId: string, jobs: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < jobs; i++) {
    const { job } = await client.createJob({ nodeId, job: { state: JobState.QUEUED, queue: `q${i % 2}` } });
    await client.updateJobState({ nodeId, jobId: job!.id, newState: JobState.RUNNING });
    const { execution } = await client.createExecution({ nodeId, execution: { jobId: job!.id, computeNodeId: 'compute-1' } });
    await client.updateExecution({ nodeId, executionId: execution!.id, message: 'started' });
    await client.updateJob({ nodeId, job: { id: job!.id, priority: i }, updateMask: { paths: ['priority'] } });
    const end = await client.updateJobState({ nodeId, jobId: job!.id, newState: i % 2 === 0 ? JobState.COMPLETED : JobState.CANCELLED });
    last = Number(end.job!.revision);
    if (i % 3 === 0) last = Number((await client.deleteJob({ nodeId, jobId: job!.id })).revision);
  }
  return last;
}

/** Every event from `fromRevision` as GetJobHistory returns them, all pages. */
export async function historyFrom(client: JobStoreClient, nodeId: string, fromRevision = 0): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  let pageToken = '';
  do {
    const page = await client.getJobHistory({ nodeId, fromRevision: BigInt(fromRevision), pageSize: 1000, pageToken });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return events;
}

/** The next message; fails if the stream ends first. */
export async function next(stream: WatchStream): Promise<WatchJobsResponse> {
  const result = await stream.next();
  if (result.done) throw new Error('the watch ended');
  return result.value;
}

/** The next `count` messages, which must all be events. */
export async function events(stream: WatchStream, count: number): Promise<JobEvent[]> {
  const read: JobEvent[] = [];
  while (read.length < count) {
    const message = await next(stream);
    if (message.kind.case !== 'event') throw new Error(`expected an event, got ${message.kind.case}`);
    read.push(message.kind.value);
  }
  return read;
}

/** Events until a progress report at `revision` or later; returns the events. */
export async function eventsUntilProgress(stream: WatchStream, revision: number): Promise<JobEvent[]> {
  const read: JobEvent[] = [];
  for (;;) {
    const message = await next(stream);
    if (message.kind.case === 'event') read.push(message.kind.value);
    else if (message.kind.case === 'progress' && message.kind.value.revision >= BigInt(revision)) return read;
  }
}

/** Reads to the end of the stream; returns the events and the error it ended with. */
export async function drain(stream: WatchStream): Promise<{ events: JobEvent[]; error: unknown }> {
  const read: JobEvent[] = [];
  try {
    for (let result = await stream.next(); !result.done; result = await stream.next()) {
      if (result.value.kind.case === 'event') read.push(result.value.kind.value);
    }
  } catch (error) {
    return { events: read, error };
  }
  return { events: read, error: undefined };
}

export const revisions = (list: JobEvent[]): number[] => list.map((event) => Number(event.revision));
