import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Job, JobState } from './job-model.js';
import { buildJobListQuery, type CheckedJobQuery } from './job-list-query.js';
import type { JobQuery, JobStore } from './job-store.js';
import { useTempStorage } from './test-support/temp-storage.js';

const NODE = 'lister';
const JOB_COUNT = 1200;

/** Pages through a whole list, checking that no page repeats an id. */
async function listAll(store: JobStore, query: JobQuery, pageSize = 97): Promise<Job[]> {
  const jobs: Job[] = [];
  let pageToken = '';
  do {
    const page = await store.listJobs(NODE, { ...query, pageSize, pageToken });
    expect(page.items.length).toBeLessThanOrEqual(pageSize);
    jobs.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  expect(new Set(jobs.map((job) => job.id)).size).toBe(jobs.length);
  return jobs;
}

describe('listing jobs', () => {
  const temp = useTempStorage('perFile');
  let store: JobStore;
  let all: Job[];
  let clock = Date.UTC(2026, 0, 1);

  beforeAll(async () => {
    store = temp.open({ clock: () => (clock += 1000) }).jobStore;
    const created: Job[] = [];
    for (let i = 0; i < JOB_COUNT; i++) {
      created.push(
        (await store.createJob(NODE, {
          namespace: `ns-${i % 3}`,
          labels: { team: ['a', 'b', 'c'][i % 3]!, tier: i % 4 === 0 ? 'gold' : 'silver' },
          queue: `q-${i % 4}`,
          batchId: i % 5 === 0 ? '' : `b-${i % 5}`,
          state: (['PENDING', 'QUEUED', 'HELD'] as const)[i % 3],
          priority: i % 7,
        })).job,
      );
    }
    // Move some along, in an order unlike their creation, so that modify order differs.
    const moves: [number, JobState][] = [];
    for (let i = JOB_COUNT - 1; i >= 0; i -= 2) moves.push([i, i % 3 === 2 ? 'CANCELLED' : 'RUNNING']);
    for (let i = 0; i < JOB_COUNT; i += 6) moves.push([i, 'FAILED']);
    const latest = new Map(created.map((job) => [job.id, job]));
    for (const [index, newState] of moves) {
      const job = latest.get(created[index]!.id)!;
      if (job.state === 'RUNNING' && newState === 'FAILED') continue;
      latest.set(job.id, await store.updateJobState(NODE, { jobId: job.id, newState }));
    }
    all = [...latest.values()];
  }, 120_000);

  const byCreate = (a: Job, b: Job) => a.createTime - b.createTime || (a.id < b.id ? -1 : 1);
  const byModify = (a: Job, b: Job) => a.modifyTime - b.modifyTime || (a.id < b.id ? -1 : 1);
  const middle = () => Date.UTC(2026, 0, 1) + (JOB_COUNT / 2) * 1000;

  const filters: [string, JobQuery, (job: Job) => boolean][] = [
    ['everything', {}, () => true],
    ['one state', { states: ['RUNNING'] }, (job) => job.state === 'RUNNING'],
    ['several states', { states: ['QUEUED', 'HELD', 'FAILED'] }, (job) => ['QUEUED', 'HELD', 'FAILED'].includes(job.state)],
    ['namespace', { namespace: 'ns-1' }, (job) => job.namespace === 'ns-1'],
    ['one label', { labelSelector: { team: 'b' } }, (job) => job.labels.team === 'b'],
    ['two labels', { labelSelector: { team: 'a', tier: 'gold' } }, (job) => job.labels.team === 'a' && job.labels.tier === 'gold'],
    ['queue', { queue: 'q-2' }, (job) => job.queue === 'q-2'],
    ['batch', { batchId: 'b-3' }, (job) => job.batchId === 'b-3'],
    ['created range', { created: { from: middle(), to: middle() + 200_000 } }, (job) => job.createTime >= middle() && job.createTime < middle() + 200_000],
    ['modified since', { modified: { from: middle() + JOB_COUNT * 1000 } }, (job) => job.modifyTime >= middle() + JOB_COUNT * 1000],
    [
      'state, namespace and queue together',
      { states: ['RUNNING', 'CANCELLED'], namespace: 'ns-2', queue: 'q-3' },
      (job) => ['RUNNING', 'CANCELLED'].includes(job.state) && job.namespace === 'ns-2' && job.queue === 'q-3',
    ],
  ];

  for (const [name, query, matches] of filters) {
    for (const orderBy of ['createTime', 'modifyTime'] as const) {
      for (const descending of [false, true]) {
        it(`filters by ${name}, ordered by ${orderBy}${descending ? ' descending' : ''}`, async () => {
          const expected = all.filter(matches).sort(orderBy === 'createTime' ? byCreate : byModify);
          if (descending) expected.reverse();
          expect(expected.length).toBeGreaterThan(0);
          const listed = await listAll(store, { ...query, orderBy, descending });
          expect(listed.map((job) => job.id)).toEqual(expected.map((job) => job.id));
        });
      }
    }
  }

  it('pages neither skip nor repeat while jobs are being added', async () => {
    const before = new Set(all.map((job) => job.id));
    const seen: string[] = [];
    let pageToken = '';
    let added = 0;
    do {
      const page = await store.listJobs(NODE, { pageSize: 50, pageToken });
      seen.push(...page.items.map((job) => job.id));
      pageToken = page.nextPageToken;
      await store.createJob(NODE, { namespace: 'late' });
      added++;
    } while (pageToken !== '');
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
    expect(added).toBeGreaterThan(20);
  });

  it('refuses a page token used with other filters', async () => {
    const page = await store.listJobs(NODE, { states: ['RUNNING'], pageSize: 10 });
    await expect(store.listJobs(NODE, { states: ['HELD'], pageToken: page.nextPageToken })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('serves every filter from an index: EXPLAIN QUERY PLAN shows no scan of the jobs table', () => {
    const db = new Database(path.join(temp.dir(), `${NODE}-requester.db`), { readonly: true });
    try {
      for (const [name, query] of filters.slice(1)) {
        for (const orderBy of ['createTime', 'modifyTime'] as const) {
          const checked: CheckedJobQuery = {
            states: query.states ?? [],
            namespace: query.namespace ?? '',
            labels: Object.entries(query.labelSelector ?? {}),
            queue: query.queue ?? '',
            batchId: query.batchId ?? '',
            created: query.created ?? {},
            modified: query.modified ?? {},
            orderBy,
            descending: false,
            pageSize: 100,
          };
          for (const cursor of [undefined, { after: [middle(), 'j-x'] as [number, string] }]) {
            const { sql, params } = buildJobListQuery(checked, cursor);
            const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
            const scans = plan.filter((detail) => /^SCAN (j|s)\b/.test(detail));
            expect(scans, `${name} by ${orderBy}: ${plan.join(' | ')}`).toEqual([]);
            expect(plan.some((detail) => /^SEARCH j USING/.test(detail)), `${name}: ${plan.join(' | ')}`).toBe(true);
          }
        }
      }
    } finally {
      db.close();
    }
  });
});
