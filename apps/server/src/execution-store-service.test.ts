import fs from 'node:fs';
import path from 'node:path';
import { ExecutionEventType, ExecutionState, ExecutionStore, SortDirection, createTypedClient, type TypedClient } from '@jobkeep/api';
import { checkNodeDatabase } from '@jobkeep/store';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'compute-1';
describe('jobkeep.v1.ExecutionStore over gRPC', () => {
  const servers = useTestServers();
  const clients: TypedClient<typeof ExecutionStore>[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  const connect = (address: string) => {
    const client = createTypedClient(ExecutionStore, address, { defaultDeadlineMs: 5000 });
    clients.push(client);
    return client;
  };
  const start = async () => {
    const started = await servers.start();
    return { ...started, executions: connect(started.server.address) };
  };

  it('round-trips create, get, list, state changes with a run result, history, counters and delete', async () => {
    const { executions } = await start();
    const { execution } = await executions.createExecution({
      nodeId: NODE,
      execution: { jobId: 'j-1', requesterNodeId: 'requester-1', jobSpec: { image: 'alpine', args: ['echo', 'hi'] }, stateMessage: 'bid asked' },
      requestId: 'bid-1',
    });
    expect(execution).toMatchObject({
      jobId: 'j-1',
      requesterNodeId: 'requester-1',
      jobSpec: { image: 'alpine', args: ['echo', 'hi'] },
      state: ExecutionState.CREATED,
      stateMessage: 'bid asked',
    });
    expect(execution!.runResult).toBeUndefined();
    expect(execution!.createTime).toBeDefined();
    const retried = await executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'requester-1' }, requestId: 'bid-1' });
    expect(retried.execution).toEqual(execution);
    expect((await executions.getExecution({ nodeId: NODE, executionId: execution!.id })).execution).toEqual(execution);

    const id = execution!.id;
    await executions.updateExecutionState({ nodeId: NODE, executionId: id, newState: ExecutionState.BID_ACCEPTED, expectedRevision: execution!.revision });
    await executions.updateExecutionState({ nodeId: NODE, executionId: id, newState: ExecutionState.RUNNING, expectedStates: [ExecutionState.BID_ACCEPTED] });
    const { execution: done } = await executions.updateExecutionState({
      nodeId: NODE,
      executionId: id,
      newState: ExecutionState.COMPLETED,
      message: 'exit 0',
      runResult: { exitCode: 0, stdoutTail: 'hi\n', stderrTail: '' },
    });
    expect(done).toMatchObject({ state: ExecutionState.COMPLETED, stateMessage: 'exit 0', runResult: { exitCode: 0, stdoutTail: 'hi\n', stderrTail: '' } });
    expect((await executions.listExecutions({ nodeId: NODE })).executions).toEqual([done]);
    expect((await executions.listExecutions({ nodeId: NODE, states: [ExecutionState.RUNNING] })).executions).toEqual([]);
    expect((await executions.listExecutions({ nodeId: NODE, jobId: 'j-1', requesterNodeId: 'requester-1', direction: SortDirection.DESCENDING })).executions).toEqual([done]);

    const counters = await executions.getCounters({ nodeId: NODE });
    expect(counters.counts.map((count) => count.state)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(counters.counts.find((count) => count.state === ExecutionState.COMPLETED)?.count).toBe(1n);
    expect(counters.counts.filter((count) => count.count !== 0n)).toHaveLength(1);
    expect(counters.revision).toBe(done!.revision);

    const { revision } = await executions.deleteExecution({ nodeId: NODE, executionId: id, expectedRevision: done!.revision });
    expect(revision).toBeGreaterThan(done!.revision);
    const { events, nextPageToken } = await executions.getExecutionHistory({ nodeId: NODE, executionId: id });
    expect(events.map((event) => [event.type, event.previousState, event.newState])).toEqual([
      [ExecutionEventType.CREATED, ExecutionState.UNSPECIFIED, ExecutionState.CREATED],
      [ExecutionEventType.STATE_CHANGED, ExecutionState.CREATED, ExecutionState.BID_ACCEPTED],
      [ExecutionEventType.STATE_CHANGED, ExecutionState.BID_ACCEPTED, ExecutionState.RUNNING],
      [ExecutionEventType.STATE_CHANGED, ExecutionState.RUNNING, ExecutionState.COMPLETED],
      [ExecutionEventType.DELETED, ExecutionState.COMPLETED, ExecutionState.UNSPECIFIED],
    ]);
    expect(events.at(-1)?.revision).toBe(revision);
    expect(nextPageToken).toBe('');
    const paged = await executions.getExecutionHistory({ nodeId: NODE, fromRevision: events[1]!.revision, pageSize: 2 });
    expect(paged.events.map((event) => event.revision)).toEqual([events[1]!.revision, events[2]!.revision]);
    await expect(executions.getExecution({ nodeId: NODE, executionId: id })).rejects.toEqual(failsWith('NOT_FOUND', id));
  });

  it('lets exactly one of many concurrent conditional updates win; the rest get FAILED_PRECONDITION', async () => {
    const { server, executions } = await start();
    const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'requester-1' } });
    // Several channels, so that the calls really are in flight together.
    const callers = Array.from({ length: 4 }, () => connect(server.address));
    const targets = [ExecutionState.BID_ACCEPTED, ExecutionState.BID_REJECTED, ExecutionState.FAILED, ExecutionState.CANCELLED];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) =>
        callers[i % callers.length]!.updateExecutionState({
          nodeId: NODE,
          executionId: execution!.id,
          newState: targets[i % targets.length]!,
          expectedRevision: execution!.revision,
        }),
      ),
    );
    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as PromiseFulfilledResult<{ execution?: { state: ExecutionState; revision: bigint } }>).value.execution!;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toEqual(failsWith('FAILED_PRECONDITION', ExecutionState[winner.state], `revision ${winner.revision}`));
      }
    }
    const { events } = await executions.getExecutionHistory({ nodeId: NODE, executionId: execution!.id });
    expect(events.map((event) => event.type)).toEqual([ExecutionEventType.CREATED, ExecutionEventType.STATE_CHANGED]);
    expect((await executions.getExecution({ nodeId: NODE, executionId: execution!.id })).execution).toMatchObject({ state: winner.state, revision: winner.revision });
  });

  it('pages a list of executions by every filter, neither skipping nor repeating', async () => {
    const { executions } = await start();
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId: `j-${i % 3}`, requesterNodeId: `r-${i % 2}` } });
      if (i % 4 === 0) await executions.updateExecutionState({ nodeId: NODE, executionId: execution!.id, newState: ExecutionState.BID_ACCEPTED });
      ids.push(execution!.id);
    }
    const listAll = async (request: Parameters<typeof executions.listExecutions>[0]) => {
      const listed: string[] = [];
      let pageToken = '';
      do {
        const page = await executions.listExecutions({ ...request, pageSize: 25, pageToken });
        listed.push(...page.executions.map((execution) => execution.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return listed;
    };
    const everything = await listAll({ nodeId: NODE });
    expect(new Set(everything)).toEqual(new Set(ids));
    expect(await listAll({ nodeId: NODE, direction: SortDirection.DESCENDING })).toEqual([...everything].reverse());
    expect(await listAll({ nodeId: NODE, states: [ExecutionState.BID_ACCEPTED] })).toHaveLength(30);
    expect(await listAll({ nodeId: NODE, states: [ExecutionState.BID_ACCEPTED, ExecutionState.CREATED], jobId: 'j-1' })).toHaveLength(40);
    expect(await listAll({ nodeId: NODE, requesterNodeId: 'r-1' })).toHaveLength(60);
  });

  it('refuses malformed requests with INVALID_ARGUMENT and changes nothing', async () => {
    const { executions, dataDir } = await start();
    const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'requester-1' } });
    const id = execution!.id;
    const before = await executions.getExecutionHistory({ nodeId: NODE });
    // Made one at a time, so that no failure arrives before the test is waiting for it.
    const attempts: [() => Promise<unknown>, string[]][] = [
      [() => executions.createExecution({ nodeId: NODE }), ['execution is required']],
      [() => executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1' } }), ['requester_node_id']],
      [() => executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'r', state: ExecutionState.RUNNING } }), ['CREATED']],
      [() => executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'r', state: 99 as ExecutionState } }), ['execution.state']],
      [() => executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'r', jobSpec: { blob: 'x'.repeat(1024 * 1024) } } }), ['job_spec', 'limit']],
      [() => executions.updateExecutionState({ nodeId: NODE, executionId: id }), ['new_state']],
      [
        () => executions.updateExecutionState({ nodeId: NODE, executionId: id, newState: ExecutionState.FAILED, runResult: { exitCode: 1, stdoutTail: 'x'.repeat(5000) } }),
        ['stdout_tail', '4096'],
      ],
      [() => executions.updateExecutionState({ nodeId: NODE, executionId: id, newState: ExecutionState.FAILED, expectedStates: [0] }), ['expected_states']],
      [() => executions.listExecutions({ nodeId: NODE, pageSize: 5000 }), ['page_size']],
      [() => executions.listExecutions({ nodeId: NODE, direction: 7 as SortDirection }), ['direction']],
      [() => executions.getExecutionHistory({ nodeId: NODE, pageToken: 'not-a-token' }), ['page_token']],
      [() => executions.getCounters({ nodeId: '../etc' }), ['node_id']],
      [() => executions.createExecution({ nodeId: 'a/b', execution: { jobId: 'j-1', requesterNodeId: 'r' } }), ['node_id']],
    ];
    for (const [attempt, fragments] of attempts) await expect(attempt()).rejects.toEqual(failsWith('INVALID_ARGUMENT', ...fragments));
    expect(await executions.getExecutionHistory({ nodeId: NODE })).toEqual(before);
    expect((await executions.getExecution({ nodeId: NODE, executionId: id })).execution).toEqual(execution);
    expect(fs.readdirSync(dataDir).filter((file) => file.endsWith('.db')).sort()).toEqual(['compute-1-compute.db', 'coordination.db']);
  });

  it('answers reads of an unknown node with NOT_FOUND and creates no file', async () => {
    const { executions, dataDir } = await start();
    const before = fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort();
    await expect(executions.getExecution({ nodeId: 'never-seen', executionId: 'e-1' })).rejects.toEqual(failsWith('NOT_FOUND', 'never-seen'));
    await expect(executions.listExecutions({ nodeId: 'never-seen' })).rejects.toEqual(failsWith('NOT_FOUND', 'never-seen'));
    await expect(executions.getExecutionHistory({ nodeId: 'never-seen' })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(executions.getCounters({ nodeId: 'never-seen' })).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(
      executions.updateExecutionState({ nodeId: 'never-seen', executionId: 'e-1', newState: ExecutionState.FAILED }),
    ).rejects.toEqual(failsWith('NOT_FOUND'));
    await expect(executions.deleteExecution({ nodeId: 'never-seen', executionId: 'e-1' })).rejects.toEqual(failsWith('NOT_FOUND'));
    expect(fs.readdirSync(path.dirname(dataDir), { recursive: true }).sort()).toEqual(before);
  });

  it('leaves a compute database that passes the consistency check after a server restart', async () => {
    const first = await start();
    const { execution } = await first.executions.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'r-1' } });
    await first.executions.updateExecutionState({ nodeId: NODE, executionId: execution!.id, newState: ExecutionState.BID_ACCEPTED });
    await first.server.shutdown();
    const file = path.join(first.dataDir, `${NODE}-compute.db`);
    expect(checkNodeDatabase('compute', file)).toEqual([]);
    const second = await servers.start({ dataDir: first.dataDir });
    const counters = await connect(second.server.address).getCounters({ nodeId: NODE });
    expect(counters.counts.find((count) => count.state === ExecutionState.BID_ACCEPTED)?.count).toBe(1n);
  });
});

describe('opening a node database', () => {
  const servers = useTestServers();

  it('logs "database opened" with the per-state counts from the counters table', async () => {
    const first = await servers.start();
    const client = createTypedClient(ExecutionStore, first.server.address);
    try {
      const { execution } = await client.createExecution({ nodeId: NODE, execution: { jobId: 'j-1', requesterNodeId: 'r-1' } });
      await client.updateExecutionState({ nodeId: NODE, executionId: execution!.id, newState: ExecutionState.BID_REJECTED });
      await client.createExecution({ nodeId: NODE, execution: { jobId: 'j-2', requesterNodeId: 'r-1' } });
    } finally {
      client.close();
    }
    expect(await first.logged('database opened')).toMatchObject({ kind: 'compute', nodeId: NODE, counts: {} });
    await first.stop();

    const second = await servers.start({ dataDir: first.config.dataDir });
    const again = createTypedClient(ExecutionStore, second.server.address);
    try {
      await again.getCounters({ nodeId: NODE });
    } finally {
      again.close();
    }
    expect(await second.logged('database opened')).toMatchObject({
      level: 30,
      kind: 'compute',
      nodeId: NODE,
      file: path.join(first.config.dataDir, `${NODE}-compute.db`),
      counts: { CREATED: 1, BID_REJECTED: 1 },
    });
  });
});
