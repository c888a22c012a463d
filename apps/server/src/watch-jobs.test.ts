import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { JobEventType, JobState } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';
import { drain, events, eventsUntilProgress, historyFrom, next, revisions, writeHistory } from './test-support/watch-helpers.js';

const NODE = 'requester-1';
/** More watches than Node's default of ten listeners per event. */
const WATCHES = 12;

describe('jobkeep.v1.JobStore/WatchJobs', () => {
  const servers = useTestServers();

  it('sends the current revision first, replays from from_revision with no gap or repeat, then follows live commits', async () => {
    const { client } = await servers.start();
    const head = await writeHistory(client, NODE, 6);
    const stream = client.watchJobs({ nodeId: NODE, fromRevision: 7n })[Symbol.asyncIterator]();
    try {
      expect((await next(stream)).kind).toEqual({ case: 'progress', value: expect.objectContaining({ revision: BigInt(head) }) });
      const replayed = await events(stream, head - 6);
      expect(replayed).toEqual(await historyFrom(client, NODE, 7));
      // The replay says when it has caught up.
      expect((await next(stream)).kind).toEqual({ case: 'progress', value: expect.objectContaining({ revision: BigInt(head) }) });

      const { job } = await client.createJob({ nodeId: NODE, job: { name: 'live' } });
      const { job: held } = await client.updateJobState({ nodeId: NODE, jobId: job!.id, newState: JobState.HELD });
      const live = await events(stream, 2);
      expect(live).toEqual(await historyFrom(client, NODE, head + 1));
      expect(live.map((event) => [event.revision, event.type])).toEqual([
        [job!.revision, JobEventType.JOB_CREATED],
        [held!.revision, JobEventType.JOB_STATE_CHANGED],
      ]);
    } finally {
      await stream.return?.();
    }
  });

  it('with from_revision 0 follows only the changes made after it started', async () => {
    const { client } = await servers.start();
    const head = await writeHistory(client, NODE, 2);
    const stream = client.watchJobs({ nodeId: NODE })[Symbol.asyncIterator]();
    try {
      expect((await next(stream)).kind).toEqual({ case: 'progress', value: expect.objectContaining({ revision: BigInt(head) }) });
      const { job } = await client.createJob({ nodeId: NODE, job: {} });
      expect(revisions(await events(stream, 1))).toEqual([Number(job!.revision)]);
    } finally {
      await stream.return?.();
    }
  });

  it('filters by event type, new state and job, from any revision', async () => {
    // The report a replay sends once caught up marks its end: every match up to it has been sent.
    const { client } = await servers.start();
    const head = await writeHistory(client, NODE, 6);
    const history = await historyFrom(client, NODE);
    const someJob = history[12]!.jobId;
    const cases = [
      { request: { eventTypes: [JobEventType.JOB_STATE_CHANGED] }, keep: (e: (typeof history)[0]) => e.type === JobEventType.JOB_STATE_CHANGED },
      { request: { states: [JobState.COMPLETED, JobState.CANCELLED] }, keep: (e: (typeof history)[0]) => [JobState.COMPLETED, JobState.CANCELLED].includes(e.newState) },
      { request: { jobId: someJob }, keep: (e: (typeof history)[0]) => e.jobId === someJob },
      {
        request: { jobId: someJob, eventTypes: [JobEventType.EXECUTION_CREATED, JobEventType.EXECUTION_UPDATED] },
        keep: (e: (typeof history)[0]) => e.jobId === someJob && e.executionId !== '',
      },
      { request: { eventTypes: [JobEventType.JOB_DELETED], states: [JobState.RUNNING] }, keep: () => false },
    ];
    for (const { request, keep } of cases) {
      for (const from of [1, 10, head]) {
        const stream = client.watchJobs({ nodeId: NODE, fromRevision: BigInt(from), ...request })[Symbol.asyncIterator]();
        expect((await next(stream)).kind.case).toBe('progress');
        expect(await eventsUntilProgress(stream, head)).toEqual(history.filter((event) => Number(event.revision) >= from && keep(event)));
        await stream.return?.();
      }
    }
  });

  it('sends idle streams progress reports carrying the current revision', async () => {
    const { client } = await servers.start({ watchProgressIntervalMs: 20 });
    const head = await writeHistory(client, NODE, 1);
    const stream = client.watchJobs({ nodeId: NODE, eventTypes: [JobEventType.JOB_DELETED] })[Symbol.asyncIterator]();
    try {
      const progress = (message: Awaited<ReturnType<typeof next>>) => (message.kind.case === 'progress' ? Number(message.kind.value.revision) : -1);
      expect(progress(await next(stream))).toBe(head);
      expect(progress(await next(stream))).toBe(head);
      // Changes the filter leaves out still move the reported revision on.
      const { job } = await client.createJob({ nodeId: NODE, job: {} });
      let reported = head;
      while (reported < Number(job!.revision)) reported = progress(await next(stream));
      expect(reported).toBe(Number(job!.revision));
    } finally {
      await stream.return?.();
    }
  });

  it('refuses bad requests before sending anything, and creates no file for an unknown node', async () => {
    const { client, config } = await servers.start();
    await writeHistory(client, NODE, 1);
    const before = fs.readdirSync(path.dirname(config.dataDir), { recursive: true }).sort();
    const failure = async (request: Parameters<typeof client.watchJobs>[0]) => (await drain(client.watchJobs(request)[Symbol.asyncIterator]())).error;
    expect(await failure({ nodeId: 'never-seen' })).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('never-seen') });
    expect(await failure({ nodeId: '../x' })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('node_id') });
    expect(await failure({ nodeId: NODE, jobId: 'a/b' })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('job_id') });
    expect(await failure({ nodeId: NODE, eventTypes: [99 as JobEventType] })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('event_types') });
    expect(await failure({ nodeId: NODE, states: [JobState.UNSPECIFIED] })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('states') });
    expect(fs.readdirSync(path.dirname(config.dataDir), { recursive: true }).sort()).toEqual(before);
  });

  it('from every revision after a server restart yields exactly the history from that point', async () => {
    const first = await servers.start();
    const head = await writeHistory(first.client, NODE, 8);
    await first.stop();
    const { client } = await servers.start({ dataDir: first.config.dataDir });
    const history = await historyFrom(client, NODE);
    expect(revisions(history)).toEqual(Array.from({ length: head }, (_, index) => index + 1));
    for (let from = 1; from <= head; from++) {
      const stream = client.watchJobs({ nodeId: NODE, fromRevision: BigInt(from) })[Symbol.asyncIterator]();
      expect((await next(stream)).kind).toEqual({ case: 'progress', value: expect.objectContaining({ revision: BigInt(head) }) });
      expect(await events(stream, head - from + 1)).toEqual(history.slice(from - 1));
      await stream.return?.();
    }
  });

  it('keeps many watches waiting at once without a listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { client } = await servers.start();
      const head = await writeHistory(client, NODE, 1);
      const stop = new AbortController();
      setMaxListeners(WATCHES, stop.signal);
      const streams = Array.from({ length: WATCHES }, () => client.watchJobs({ nodeId: NODE, fromRevision: 1n }, { signal: stop.signal })[Symbol.asyncIterator]());
      for (const stream of streams) {
        await next(stream);
        expect(revisions(await eventsUntilProgress(stream, head))).toHaveLength(head);
      }
      // Each is now waiting for a commit; a write reaches all of them.
      await client.createJob({ nodeId: NODE, job: { state: JobState.QUEUED } });
      for (const stream of streams) expect(revisions(await events(stream, 1))).toEqual([head + 1]);
      stop.abort();
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('ends its streams at once with UNAVAILABLE, naming where to resume, when the server shuts down', async () => {
    const started = await servers.start({ shutdownGraceMs: 600_000 });
    const head = await writeHistory(started.client, NODE, 1);
    const stream = started.client.watchJobs({ nodeId: NODE, fromRevision: 1n })[Symbol.asyncIterator]();
    await next(stream);
    expect(revisions(await events(stream, head))).toHaveLength(head);
    // The grace period is ten minutes: this test only ends in time if the watch does not wait for it.
    await started.server.shutdown();
    const { events: rest, error } = await drain(stream);
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', message: `the server is shutting down; resume with from_revision ${head + 1}` });
  });
});
