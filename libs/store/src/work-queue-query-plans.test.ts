import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BATCH_PAGE_SQL, FAILED_JOBS_SQL } from './batch-reads.js';
import { LIVE_DEDUPE_KEY_SQL } from './job-writes.js';
import { useTempStorage } from './test-support/temp-storage.js';
import { BACKOFF_ENDED_SQL, CLAIMS_OF_LEASE_SQL, QUEUE_HEAD_SQL } from './work-queue-writes.js';

/**
 * The statements of work queues and batches that run on every claim, lease end, create and
 * report are served by their indexes: no scan of a table, and no sort of the rows.
 */
describe('work-queue and batch statements', () => {
  const temp = useTempStorage('perTest');

  const statements: [string, string, unknown[], string][] = [
    ['the head of a queue', QUEUE_HEAD_SQL, ['q'], 'jobs_claim_order'],
    ['the jobs of a queue whose backoff ended', BACKOFF_ENDED_SQL, ['q', 0], 'jobs_in_backoff'],
    ['the claims of a lease', CLAIMS_OF_LEASE_SQL, [1, 500], 'jobs_by_claim_lease'],
    ['the live job with a dedupe key', LIVE_DEDUPE_KEY_SQL, ['default', 'k'], 'jobs_by_dedupe_key'],
    ['a page of a batch’s failed jobs', FAILED_JOBS_SQL, ['b-1', 0, 100], 'jobs_by_batch_state'],
    ['a page of batches', BATCH_PAGE_SQL.all, [0, '', 100], 'batches_by_create'],
    ['a page of a namespace’s batches', BATCH_PAGE_SQL.namespace, ['default', 0, '', 100], 'batches_by_namespace_create'],
  ];

  it.each(statements)('serves %s from its index', async (_name, sql, params, index) => {
    const storage = temp.open();
    // Enough rows of every kind for the planner to have a choice.
    await storage.batches.createBatch('node-1', {
      id: 'b-1',
      jobs: Array.from({ length: 200 }, (_, i) => ({ state: 'QUEUED' as const, queue: `q${i % 3}`, priority: i % 5, dedupeKey: `k${i}` })),
    });
    const file = storage.locations.nodeDatabasePath('requester', 'node-1');
    const db = new Database(file, { readonly: true });
    try {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
      // The one scan allowed: the partial index of the jobs a drain has frozen, a group at most.
      const bounded = (detail: string) => detail === 'SCAN job_moves USING COVERING INDEX job_moves_frozen';
      expect(plan.filter((detail) => (/^SCAN /.test(detail) && !bounded(detail)) || /TEMP B-TREE/.test(detail)), plan.join(' | ')).toEqual([]);
      expect(plan.some((detail) => detail.includes(`USING INDEX ${index}`) || detail.includes(`USING COVERING INDEX ${index}`)), plan.join(' | ')).toBe(true);
    } finally {
      db.close();
    }
  });
});
