import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExecutionListQuery, type CheckedExecutionQuery } from './execution-list-query.js';
import type { Execution } from './execution-model.js';
import type { ExecutionListQuery, ExecutionStore } from './execution-store.js';
import type { ExecutionState } from './job-model.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'compute-lister';
const EXECUTION_COUNT = 900;

/** Pages through a whole list, checking that no page repeats an id. */
async function listAll(store: ExecutionStore, query: ExecutionListQuery, pageSize = 83): Promise<Execution[]> {
  const executions: Execution[] = [];
  let pageToken = '';
  do {
    const page = await store.listExecutions(NODE, { ...query, pageSize, pageToken });
    expect(page.items.length).toBeLessThanOrEqual(pageSize);
    executions.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  expect(new Set(executions.map((execution) => execution.id)).size).toBe(executions.length);
  return executions;
}

describe('listing executions', () => {
  const temp = useTempStorage('perFile');
  let store: ExecutionStore;
  let all: Execution[];
  let clock = Date.UTC(2026, 0, 1);

  beforeAll(async () => {
    // Every other tick repeats the previous one, so that ties on modify time are broken by id.
    let tick = 0;
    store = temp.open({ clock: () => (clock += tick++ % 2 === 0 ? 1000 : 0) }).executionStore;
    const created: Execution[] = [];
    for (let i = 0; i < EXECUTION_COUNT; i++) {
      created.push(await store.createExecution(NODE, { jobId: `job-${i % 7}`, requesterNodeId: `requester-${i % 3}`, jobSpec: { i } }));
    }
    // Move some along, in an order unlike their creation, so that modify order differs.
    const latest = new Map(created.map((execution) => [execution.id, execution]));
    const paths: ExecutionState[][] = [['BID_REJECTED'], ['BID_ACCEPTED', 'RUNNING'], ['BID_ACCEPTED', 'RUNNING', 'COMPLETED'], ['CANCELLED']];
    for (let i = EXECUTION_COUNT - 1; i >= 0; i -= 2) {
      for (const newState of paths[i % 4]!) {
        const id = created[i]!.id;
        latest.set(id, await store.updateExecutionState(NODE, { executionId: id, newState }));
      }
    }
    all = [...latest.values()];
  }, 120_000);

  const byModify = (a: Execution, b: Execution) => a.modifyTime - b.modifyTime || (a.id < b.id ? -1 : 1);

  const filters: [string, ExecutionListQuery, (execution: Execution) => boolean][] = [
    ['everything', {}, () => true],
    ['job', { jobId: 'job-3' }, (execution) => execution.jobId === 'job-3'],
    ['one state', { states: ['RUNNING'] }, (execution) => execution.state === 'RUNNING'],
    ['several states', { states: ['CREATED', 'COMPLETED', 'BID_REJECTED'] }, (execution) => ['CREATED', 'COMPLETED', 'BID_REJECTED'].includes(execution.state)],
    ['requester', { requesterNodeId: 'requester-1' }, (execution) => execution.requesterNodeId === 'requester-1'],
    [
      'job, states and requester together',
      { jobId: 'job-2', states: ['CREATED', 'RUNNING'], requesterNodeId: 'requester-0' },
      (execution) => execution.jobId === 'job-2' && ['CREATED', 'RUNNING'].includes(execution.state) && execution.requesterNodeId === 'requester-0',
    ],
  ];

  for (const [name, query, matches] of filters) {
    for (const descending of [false, true]) {
      it(`filters by ${name}, by modify time${descending ? ' descending' : ''}`, async () => {
        const expected = all.filter(matches).sort(byModify);
        if (descending) expected.reverse();
        expect(expected.length).toBeGreaterThan(0);
        const listed = await listAll(store, { ...query, descending });
        expect(listed.map((execution) => execution.id)).toEqual(expected.map((execution) => execution.id));
        expect(listed).toEqual(expected);
      });
    }
  }

  it('pages neither skip nor repeat while executions are being added', async () => {
    const before = new Set(all.map((execution) => execution.id));
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await store.listExecutions(NODE, { pageSize: 50, pageToken });
      seen.push(...page.items.map((execution) => execution.id));
      pageToken = page.nextPageToken;
      await store.createExecution(NODE, { jobId: 'late', requesterNodeId: 'requester-9' });
    } while (pageToken !== '');
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });

  it('refuses a page token used with other filters or order', async () => {
    const page = await store.listExecutions(NODE, { states: ['RUNNING'], pageSize: 10 });
    await expect(store.listExecutions(NODE, { states: ['CREATED'], pageToken: page.nextPageToken })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.listExecutions(NODE, { states: ['RUNNING'], descending: true, pageToken: page.nextPageToken })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('serves every filter from an index: EXPLAIN QUERY PLAN shows no scan of a table', () => {
    const db = new Database(path.join(temp.dir(), `${NODE}-compute.db`), { readonly: true });
    try {
      for (const [name, query] of filters) {
        for (const descending of [false, true]) {
          const checked: CheckedExecutionQuery = {
            jobId: query.jobId ?? '',
            states: query.states ?? [],
            requesterNodeId: query.requesterNodeId ?? '',
            descending,
            pageSize: 100,
          };
          for (const cursor of [undefined, { after: [clock, 'e-x'] as [number, string] }]) {
            const { sql, params } = buildExecutionListQuery(checked, cursor);
            const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
            const where = `${name}${descending ? ' descending' : ''}: ${plan.join(' | ')}`;
            // A table is scanned only along the list order's own index, which the LIMIT stops;
            // scans of the few candidate rows of a merge of states ("SCAN p") are fine.
            const scans = plan.filter(
              (detail) => /^SCAN (e|s|r)\b/.test(detail) && !/^SCAN e USING (COVERING )?INDEX executions_by_modify\b/.test(detail),
            );
            expect(scans, where).toEqual([]);
            const seeks = name === 'everything' ? /^(SEARCH|SCAN) e USING INDEX executions_by_modify\b/ : /^SEARCH e USING (COVERING )?INDEX executions_by_/;
            expect(plan.some((detail) => seeks.test(detail)), where).toBe(true);
          }
        }
      }
    } finally {
      db.close();
    }
  });
});
