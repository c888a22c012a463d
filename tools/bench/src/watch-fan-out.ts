import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobEventType } from '@jobkeep/api';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { benchJob } from './jobkeep-cases.js';
import { casesOf, type LoadCase, type PreparedLoad } from './load-case.js';
import type { ServerProcess } from './server-process.js';

/** Watch streams every created job is fanned out to, each on a connection of its own, as agents' would be. */
const WATCHERS = Number(process.env.JOBKEEP_BENCH_WATCHERS ?? '16');

/**
 * Watch fan-out: `WATCHERS` WatchJobs streams follow one node database; one call is a CreateJob
 * that counts as done once every watcher has received its JOB_CREATED event, so its latency is
 * the durable write plus the delivery to the slowest watcher, and its items are the events
 * delivered. In flight is the number of such creates at once.
 */
export function watchFanOutCase(jobkeep: ServerProcess, writer: JobStoreClient): LoadCase {
  return casesOf('jobkeep', jobkeep.child.pid!, [
    {
      operation: 'watch fan-out',
      description: `CreateJob until each of ${WATCHERS} WatchJobs streams has its event, durable`,
      itemsPerOp: WATCHERS,
      prepare: (concurrency) => followWithWatchers(jobkeep.address, writer, `watch-${concurrency}`),
    },
  ])[0]!;
}

/** Opens the watchers on `nodeId`'s database and waits until they all follow it. */
async function followWithWatchers(address: string, writer: JobStoreClient, nodeId: string): Promise<PreparedLoad> {
  // A watch of a database that does not exist yet is NOT_FOUND: make it first.
  await writer.createJob({ nodeId, job: benchJob(0) });
  const deliveries = new Deliveries();
  const stop = new AbortController();
  // Every watcher's stream listens to this one signal; more than ten would print a leak warning.
  setMaxListeners(WATCHERS, stop.signal);
  const watchers = Array.from({ length: WATCHERS }, () => createJobStoreClient(address));
  const streams = watchers.map(async (watcher) => {
    try {
      for await (const message of watcher.watchJobs({ nodeId }, { signal: stop.signal })) {
        if (message.kind.case === 'event' && message.kind.value.type === JobEventType.JOB_CREATED) deliveries.arrived(message.kind.value.jobId);
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  });
  const create = async (i: number) => (await writer.createJob({ nodeId, job: benchJob(i) })).job!.id;
  await everyWatcherListening(create, deliveries);
  return {
    operation: async (i) => deliveries.allArrived(await create(i)),
    finish: async () => {
      stop.abort();
      await Promise.all(streams);
      for (const watcher of watchers) watcher.close();
    },
  };
}

/** Counts each job's events as they arrive, and lets a writer wait until all watchers have had theirs. */
class Deliveries {
  private readonly jobs = new Map<string, { count: number; done?: () => void }>();

  arrived(jobId: string): void {
    const entry = this.jobs.get(jobId) ?? { count: 0 };
    entry.count++;
    this.jobs.set(jobId, entry);
    if (entry.count === WATCHERS) entry.done?.();
  }

  /** Resolves once every watcher has had the job's event (which may come before the create's reply). */
  allArrived(jobId: string): Promise<void> {
    const entry = this.jobs.get(jobId) ?? { count: 0 };
    this.jobs.set(jobId, entry);
    return new Promise<void>((resolve) => {
      entry.done = () => {
        this.jobs.delete(jobId);
        resolve();
      };
      if (entry.count === WATCHERS) entry.done();
    });
  }

  /** Whether every watcher has had the job's event within `ms`; forgets the job either way. */
  async arrivedWithin(jobId: string, ms: number): Promise<boolean> {
    const arrived = await Promise.race([this.allArrived(jobId).then(() => true), sleep(ms).then(() => false)]);
    this.jobs.delete(jobId);
    return arrived;
  }
}

/**
 * Streams start when they are first read, so the first creates may come before some watchers
 * follow the database: create until one job reaches them all. Events come in revision order,
 * so every later job reaches them all too.
 */
async function everyWatcherListening(create: (i: number) => Promise<string>, deliveries: Deliveries): Promise<void> {
  for (let attempt = 1; attempt <= 100; attempt++) {
    if (await deliveries.arrivedWithin(await create(attempt), 200)) return;
  }
  throw new Error(`the ${WATCHERS} watchers did not all receive an event within 100 creates`);
}
