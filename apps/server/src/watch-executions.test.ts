import path from 'node:path';
import Database from 'better-sqlite3';
import {
  ExecutionEventType,
  ExecutionState,
  ExecutionStore,
  createTypedClient,
  type ExecutionEvent,
  type TypedClient,
  type WatchExecutionsResponse,
} from '@jobkeep/api';
import { watchExecutions } from '@jobkeep/client';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';

const NODE = 'compute-1';
type Stream = AsyncIterator<WatchExecutionsResponse>;

async function next(stream: Stream): Promise<WatchExecutionsResponse> {
  const result = await stream.next();
  if (result.done) throw new Error('the watch ended');
  return result.value;
}

/** Events until a progress report at `revision` or later. */
async function eventsUntilProgress(stream: Stream, revision: number): Promise<ExecutionEvent[]> {
  const read: ExecutionEvent[] = [];
  for (;;) {
    const message = await next(stream);
    if (message.kind.case === 'event') read.push(message.kind.value);
    else if (message.kind.case === 'progress' && message.kind.value.revision >= BigInt(revision)) return read;
  }
}

describe('jobkeep.v1.ExecutionStore/WatchExecutions', () => {
  const servers = useTestServers();
  const clients: TypedClient<typeof ExecutionStore>[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  const start = async (settings = {}) => {
    const started = await servers.start(settings);
    const executions = createTypedClient(ExecutionStore, started.server.address, { defaultDeadlineMs: 5000 });
    clients.push(executions);
    return { ...started, executions };
  };

  /** Three executions of two jobs through a few states, one deleted: returns the last revision. */
  async function writeHistory(executions: TypedClient<typeof ExecutionStore>): Promise<number> {
    let last = 0n;
    for (const [index, jobId] of ['job-a', 'job-b', 'job-a'].entries()) {
      const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId, requesterNodeId: 'requester-1' } });
      const bid = index === 1 ? ExecutionState.BID_REJECTED : ExecutionState.BID_ACCEPTED;
      last = (await executions.updateExecutionState({ nodeId: NODE, executionId: execution!.id, newState: bid })).execution!.revision;
      if (index === 1) last = (await executions.deleteExecution({ nodeId: NODE, executionId: execution!.id })).revision;
    }
    return Number(last);
  }

  it('replays the history from a revision, filtered, then follows live changes', async () => {
    const { executions } = await start();
    const head = await writeHistory(executions);
    const { events: history } = await executions.getExecutionHistory({ nodeId: NODE });
    const cases = [
      { request: {}, keep: () => true },
      { request: { eventTypes: [ExecutionEventType.CREATED] }, keep: (e: ExecutionEvent) => e.type === ExecutionEventType.CREATED },
      { request: { states: [ExecutionState.BID_ACCEPTED] }, keep: (e: ExecutionEvent) => e.newState === ExecutionState.BID_ACCEPTED },
      { request: { jobId: 'job-b' }, keep: (e: ExecutionEvent) => e.jobId === 'job-b' },
    ];
    for (const { request, keep } of cases) {
      for (const from of [1, 3]) {
        const stream = executions.watchExecutions({ nodeId: NODE, fromRevision: BigInt(from), ...request })[Symbol.asyncIterator]();
        expect((await next(stream)).kind).toEqual({ case: 'progress', value: expect.objectContaining({ revision: BigInt(head) }) });
        expect(await eventsUntilProgress(stream, head)).toEqual(history.filter((event) => Number(event.revision) >= from && keep(event)));
        await stream.return?.();
      }
    }

    const live = executions.watchExecutions({ nodeId: NODE, jobId: 'job-c' })[Symbol.asyncIterator]();
    expect((await next(live)).kind.value).toMatchObject({ revision: BigInt(head) });
    await executions.createExecution({ nodeId: NODE, execution: { jobId: 'job-other', requesterNodeId: 'requester-1' } });
    const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId: 'job-c', requesterNodeId: 'requester-1' } });
    expect((await next(live)).kind).toEqual({
      case: 'event',
      value: expect.objectContaining({ revision: execution!.revision, executionId: execution!.id, type: ExecutionEventType.CREATED }),
    });
    await live.return?.();
  });

  it('answers NOT_FOUND for a node without a compute database and OUT_OF_RANGE below the compacted revision', async () => {
    const { executions, config } = await start();
    const failure = async (request: Parameters<typeof executions.watchExecutions>[0]) => {
      try {
        for await (const _message of executions.watchExecutions(request)) expect.unreachable();
      } catch (error) {
        return error;
      }
    };
    expect(await failure({ nodeId: NODE })).toMatchObject({ code: 'NOT_FOUND' });
    await writeHistory(executions);
    const db = new Database(path.join(config.dataDir, `${NODE}-compute.db`));
    db.prepare("UPDATE store_meta SET value = 4 WHERE key = 'compacted_revision'").run();
    db.close();
    expect(await failure({ nodeId: NODE, fromRevision: 2n })).toMatchObject({
      code: 'OUT_OF_RANGE',
      message: 'revision 2 has been compacted; the oldest available revision is 5',
    });
  });

  it('is followed across a server restart by the client’s resumable watchExecutions', async () => {
    const first = await start();
    const head = await writeHistory(first.executions);
    const seen: number[] = [];
    const stop = new AbortController();
    const restarted = (async () => {
      await first.stop();
      const second = await start({ dataDir: first.config.dataDir, listen: first.server.address });
      // Clients of one address share a connection, which waits out its reconnection backoff.
      await second.executions.waitForReady(Date.now() + 10_000);
      await second.executions.createExecution({ nodeId: NODE, execution: { jobId: 'job-z', requesterNodeId: 'requester-1' } });
    })();
    const watching = (async () => {
      const options = { signal: stop.signal, initialBackoffMs: 20 };
      for await (const message of watchExecutions(first.executions, { nodeId: NODE, fromRevision: 1n }, options)) {
        if (message.kind.case === 'event') seen.push(Number(message.kind.value.revision));
        if (seen.length === head + 1) stop.abort();
      }
    })();
    await restarted;
    await expect(watching).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toEqual(Array.from({ length: head + 1 }, (_, index) => index + 1));
  });
});
