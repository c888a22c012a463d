import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { ExecutionStore, JobStore, LeaseService, WatchJobsResponseSchema, createTypedClient } from '@jobkeep/api';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GRPC_WRITE_BUFFER_MESSAGES, HTTP2_DEFAULT_WINDOW_BYTES } from './history-watch.js';
import { eventually } from './test-support/coordination-clients.js';
import { failsWith } from './test-support/fails-with.js';
import { useTestServers } from './test-support/test-server.js';
import { drain, events, next, revisions, writeHistory, type WatchStream } from './test-support/watch-helpers.js';

const NODE = 'requester-1';
/** grpc-js's client buffers as many decoded messages while its reader is paused. */
const GRPC_READ_BUFFER_MESSAGES = 16;

/**
 * `count` history rows written from outside, as another process would, in one transaction: a
 * long history in a moment. The server's watches read them like any others.
 */
function appendHistoryFromOutside(dataDir: string, count: number): number {
  const db = new Database(path.join(dataDir, `${NODE}-requester.db`));
  const insert = db.prepare(
    `INSERT INTO job_history (job_id, execution_id, type, previous_state, new_state, message, time)
     VALUES (?, '', 'JOB_CREATED', '', 'QUEUED', '', ?)`,
  );
  let head = 0;
  db.transaction(() => {
    for (let i = 0; i < count; i++) head = Number(insert.run(`j-${String(i).padStart(36, '0')}`, Date.now()).lastInsertRowid);
  })();
  db.close();
  return head;
}

/**
 * What compaction leaves behind, done from outside as another process would: the history of
 * deleted jobs up to `through` removed and the mark raised. (The store's compactHistoryInTx,
 * which retention calls, is tested in libs/store.)
 */
function compactFromOutside(dataDir: string, through: number): void {
  const db = new Database(path.join(dataDir, `${NODE}-requester.db`));
  db.transaction(() => {
    db.prepare('DELETE FROM job_history WHERE revision <= ? AND job_id NOT IN (SELECT id FROM jobs)').run(through);
    db.prepare("UPDATE store_meta SET value = ? WHERE key = 'compacted_revision'").run(through);
  })();
  db.close();
}

describe('WatchJobs limits', () => {
  const servers = useTestServers();

  it('answers an old from_revision after compaction with OUT_OF_RANGE naming the oldest revision', async () => {
    const { client, config } = await servers.start();
    const head = await writeHistory(client, NODE, 3);
    compactFromOutside(config.dataDir, 10);
    for (const from of [1n, 5n, 10n]) {
      const { events: sent, error } = await drain(client.watchJobs({ nodeId: NODE, fromRevision: from })[Symbol.asyncIterator]());
      expect(sent).toEqual([]);
      expect(error).toMatchObject({ code: 'OUT_OF_RANGE', message: `revision ${from} has been compacted; the oldest available revision is 11` });
    }
    const stream = client.watchJobs({ nodeId: NODE, fromRevision: 11n })[Symbol.asyncIterator]();
    await next(stream);
    expect(revisions(await events(stream, head - 10))).toEqual(Array.from({ length: head - 10 }, (_, index) => index + 11));
    await stream.return?.();
  });

  it('ends a watch that falls behind a compaction with OUT_OF_RANGE after what it had been sent', async () => {
    const { client, config } = await servers.start();
    await client.createJob({ nodeId: NODE, job: {} });
    const head = appendHistoryFromOutside(config.dataDir, 4000);
    const stream = client.watchJobs({ nodeId: NODE, fromRevision: 1n })[Symbol.asyncIterator]();
    await next(stream);
    // The watcher reads nothing for now: flow control holds the watch in its first pages.
    compactFromOutside(config.dataDir, head);

    const { events: sent, error } = await drain(stream);
    expect(revisions(sent)).toEqual(Array.from({ length: sent.length }, (_, index) => index + 1));
    expect(sent.length).toBeLessThan(4000);
    expect(error).toMatchObject({
      code: 'OUT_OF_RANGE',
      message: `revision ${sent.length + 1} has been compacted; the oldest available revision is ${head + 1}`,
    });
  });

  it('drops a watcher that stops reading once it has read nothing for the stall timeout, within the bound', async () => {
    const { client, config, logged } = await servers.start({ watchStallTimeoutMs: 100 });
    await client.createJob({ nodeId: NODE, job: {} });
    appendHistoryFromOutside(config.dataDir, 6000);
    const stream = client.watchJobs({ nodeId: NODE, fromRevision: 1n })[Symbol.asyncIterator]();
    await next(stream);
    const dropped = await logged('watch dropped: the watcher stopped reading');

    const { events: sent, error } = await drain(stream);
    expect(revisions(sent)).toEqual(Array.from({ length: sent.length }, (_, index) => index + 1));
    expect(dropped).toMatchObject({ nodeId: NODE, resumeFrom: sent.length + 1 });
    expect(error).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: `watcher stopped reading; resume with from_revision ${sent.length + 1}`,
    });
    // The documented bound (history-watch.ts): what HTTP/2 flow control lets through to the
    // watcher's receive window, plus grpc-js's write buffer and the client's read buffer. The
    // page the watch was on when it stopped was never sent.
    const framedBytes = sent.map((event) => toBinary(WatchJobsResponseSchema, create(WatchJobsResponseSchema, { kind: { case: 'event', value: event } })).length + 5);
    const bound = Math.floor(HTTP2_DEFAULT_WINDOW_BYTES / Math.min(...framedBytes)) + GRPC_WRITE_BUFFER_MESSAGES + GRPC_READ_BUFFER_MESSAGES;
    expect(sent.length).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(6000);
  });

  it('lets no lease expire while a shutdown waits on a watcher that reads nothing', async () => {
    // The grace period outlasts the lease's TTL: only stopping the sweeper first saves the lease.
    const first = await servers.start({ watchStallTimeoutMs: 60_000, shutdownGraceMs: 3000 });
    await first.client.createJob({ nodeId: NODE, job: {} });
    appendHistoryFromOutside(first.config.dataDir, 6000);
    const leases = createTypedClient(LeaseService, first.server.address);
    const { lease } = await leases.grant({ ttlSeconds: 2n });
    leases.close();
    const stream = first.client.watchJobs({ nodeId: NODE, fromRevision: 1n })[Symbol.asyncIterator]();
    await next(stream);
    // Let the watch fill every buffer between it and this reader, which reads nothing more.
    await new Promise((resolve) => setTimeout(resolve, 300));

    await first.stop();

    const second = await servers.start({ dataDir: first.config.dataDir });
    const again = createTypedClient(LeaseService, second.server.address);
    expect((await again.timeToLive({ leaseId: lease!.id })).remainingMs).toBeGreaterThan(0n);
    again.close();
  });

  it('holds at most --max-watches-per-connection watches on one connection, of both kinds; one more is RESOURCE_EXHAUSTED until one closes', async () => {
    const { client, server } = await servers.start({ maxWatchesPerConnection: 2 });
    const { job } = await client.createJob({ nodeId: NODE, job: {} });
    // Clients of one address share a connection unless one asks for a pool of its own.
    const jobs = createTypedClient(JobStore, server.address);
    const executions = createTypedClient(ExecutionStore, server.address);
    const elsewhere = createTypedClient(JobStore, server.address, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
    try {
      await executions.createExecution({ nodeId: 'compute-1', execution: { jobId: job!.id, requesterNodeId: NODE } });
      const watchJobs = () => jobs.watchJobs({ nodeId: NODE })[Symbol.asyncIterator]();
      const first = watchJobs();
      await next(first);
      const second = executions.watchExecutions({ nodeId: 'compute-1' })[Symbol.asyncIterator]();
      await second.next();

      await expect(next(watchJobs())).rejects.toEqual(
        failsWith(
          'RESOURCE_EXHAUSTED',
          'this connection already has 2 watches open, the most one connection may have (--max-watches-per-connection): close a watch, or watch over another connection',
        ),
      );
      const other = elsewhere.watchJobs({ nodeId: NODE })[Symbol.asyncIterator]();
      expect((await next(other)).kind.case).toBe('progress');

      // Closing a watch gives its slot back, once the server has seen the stream end.
      await first.return?.();
      const reopened: WatchStream[] = [];
      await eventually(async () => {
        const attempt = watchJobs();
        try {
          await next(attempt);
          reopened.push(attempt);
          return true;
        } catch (error) {
          expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
          return false;
        }
      });
      for (const open of [...reopened, other, second]) await open.return?.();
    } finally {
      for (const opened of [jobs, executions, elsewhere]) opened.close();
    }
  });
});
