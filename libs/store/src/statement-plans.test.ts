import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseRetentionSetting } from './retention-policy.js';
import type { Storage } from './storage.js';
import { useTempStorage } from './test-support/temp-storage.js';

/**
 * Every statement the store runs for the calls of the service, found by running them rather
 * than by listing them: a workload goes through every facade with a statement hook on, and
 * each distinct statement it ran is explained on the database it ran on. None may scan a table
 * that grows with the data. A new statement, or a change to an index, that turns a lookup into
 * a scan fails here, whichever call it hides behind.
 */
describe('the plans of the statements a workload runs', () => {
  const temp = useTempStorage('perTest');

  it('use an index for every table that grows with the data', async () => {
    const seen = new Set<string>();
    let recording = false;
    const storage = temp.open({
      onStatement: (sql) => recording && seen.add(sql),
      // So that retention, at the end of the workload, runs every statement of a pass.
      retention: { requester: parseRetentionSetting('job', 'COMPLETED=delete:1h,RUNNING=fail:1h'), compute: parseRetentionSetting('execution', 'COMPLETED=delete:1h') },
    });
    // Opening and migrating run once per file, not per call: they are left out.
    await storage.jobStore.createJob('req-1', {});
    await storage.jobStore.createJob('req-2', {});
    await storage.executionStore.createExecution('cmp-1', { jobId: 'j-0', requesterNodeId: 'req-1' });
    recording = true;
    await runWorkload(storage);
    const files = [
      storage.locations.nodeDatabasePath('requester', 'req-1'),
      storage.locations.nodeDatabasePath('compute', 'cmp-1'),
      storage.locations.nodeDatabasePath('requester', 'req-2'),
      storage.locations.coordinationPath,
    ];
    storage.close();

    const explained = explainAll([...seen].filter(mayScan), files);
    // The workload reached what it is meant to: queries of every database and kind of call.
    expect(explained.length).toBeGreaterThan(100);
    expect(explained.filter(({ sql }) => /FROM jobs\b/.test(sql)).length).toBeGreaterThan(10);
    expect(explained.filter(({ sql }) => /FROM executions\b/.test(sql)).length).toBeGreaterThan(3);
    expect(explained.filter(({ sql }) => /FROM (locks|leases|nodes)\b/.test(sql)).length).toBeGreaterThan(3);

    const scans = explained.flatMap(({ sql, plan }) =>
      plan.filter((detail) => isUnboundedScan(detail, sql, plan)).map((detail) => `${detail}  <-  ${sql.slice(0, 300)}`),
    );
    expect(scans).toEqual([]);
  });

  // A scan in page order passes the test above; these filters must not fall back to one.
  it("find a batch's jobs and an execution's history through their partial indexes", async () => {
    const seen = new Set<string>();
    let recording = false;
    const storage = temp.open({ onStatement: (sql) => recording && seen.add(sql) });
    const jobs = storage.jobStore;
    const { batch } = await storage.batches.createBatch('req-1', { jobs: [{ state: 'PENDING' }] });
    const { job } = await jobs.createJob('req-1', { state: 'PENDING' });
    const execution = await jobs.createExecution('req-1', { jobId: job.id, computeNodeId: 'cmp-1' });
    recording = true;
    await jobs.listJobs('req-1', { batchId: batch.id, pageSize: 5 });
    await jobs.getJobHistory('req-1', { executionId: execution.id, pageSize: 5 });
    recording = false;
    const file = storage.locations.nodeDatabasePath('requester', 'req-1');
    storage.close();

    const steps = explainAll([...seen].filter(mayScan), [file]).flatMap(({ plan }) => plan);
    expect(steps).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SEARCH j USING INDEX jobs_by_batch_create /), expect.stringMatching(/^SEARCH job_history USING INDEX job_history_by_execution /)]),
    );
  });
});

/** The calls of the service, on a requester node, a compute node and coordination.db. */
async function runWorkload(storage: Storage): Promise<void> {
  const requester = 'req-1';
  const compute = 'cmp-1';
  const jobs = storage.jobStore;
  const lease = await storage.leaseStore.grant(60);

  // Jobs: every kind of create, read, list, change and delete.
  const created = [];
  for (let i = 0; i < 30; i++) {
    const { job } = await jobs.createJob(requester, {
      name: `job-${i}`,
      labels: { shard: `s${i % 3}`, team: 'a' },
      queue: `q${i % 2}`,
      priority: i % 4,
      state: 'QUEUED',
      dedupeKey: `k-${i}`,
      requestId: `r-${i}`,
      spec: { image: 'x', n: i },
    });
    created.push(job);
  }
  await jobs.createJob(requester, { requestId: 'r-0' });
  await jobs.createJob(requester, { dedupeKey: 'k-1', onDuplicate: 'returnExisting' });
  const first = created[0]!;
  await jobs.getJob(requester, { id: first.id });
  await jobs.getJob(requester, { idPrefix: first.id.slice(0, -1) });
  await jobs.getJob(requester, { name: 'job-1' });
  for (const query of [
    {},
    { states: ['QUEUED' as const] },
    { namespace: 'default' },
    { queue: 'q1' },
    { labelSelector: { shard: 's1' } },
    { created: { from: 0 } },
    { modified: { from: 0 }, orderBy: 'modifyTime' as const, descending: true },
    { states: ['QUEUED' as const], orderBy: 'modifyTime' as const },
  ]) {
    const page = await jobs.listJobs(requester, { ...query, pageSize: 5 });
    await jobs.listJobs(requester, { ...query, pageSize: 5, pageToken: page.nextPageToken });
  }
  await jobs.updateJob(requester, { jobId: first.id, changes: { priority: 9, labels: { shard: 's9' } } });
  const held = await storage.workQueues.holdJob(requester, { jobId: created[1]!.id });
  await storage.workQueues.releaseJob(requester, { jobId: held.id });
  await storage.workQueues.holdQueue(requester, { queue: 'q1' });
  await storage.workQueues.listQueueHolds(requester, { pageSize: 10 });
  await storage.workQueues.releaseQueue(requester, 'q1');

  // Claims, executions, state changes, history.
  const claimed = await storage.workQueues.claimJob(requester, { queue: 'q0', leaseId: lease.id, worker: 'w' });
  const running = claimed.job!;
  const execution = await jobs.createExecution(requester, { jobId: running.id, computeNodeId: compute, requestId: 'e-r-1' });
  await jobs.updateExecution(requester, { executionId: execution.id, computeState: 'RUNNING' });
  await jobs.listExecutions(requester, { jobId: running.id, pageSize: 10 });
  await jobs.updateJobState(requester, { jobId: created[3]!.id, newState: 'CANCELLED' });
  await jobs.getJobHistory(requester, { jobId: first.id, pageSize: 10 });
  await jobs.getJobHistory(requester, { executionId: execution.id, pageSize: 10 });
  await jobs.getJobHistory(requester, { fromRevision: 2, pageSize: 10 });
  await storage.jobHistory.bounds(requester);
  await storage.jobHistory.readPage(requester, { fromRevision: 1, filter: { jobId: first.id, types: ['JOB_CREATED'] }, limit: 50 });
  await jobs.deleteJob(requester, created[3]!.id);

  // Batches.
  const { batch } = await storage.batches.createBatch(requester, { jobs: [{ state: 'QUEUED' }, { state: 'QUEUED', dedupeKey: 'bk' }] });
  await storage.batches.getBatch(requester, batch.id);
  await storage.batches.listBatches(requester, { pageSize: 5 });
  await storage.batches.listBatches(requester, { namespace: 'default', pageSize: 5 });
  await storage.batches.getBatchReport(requester, { batchId: batch.id, pageSize: 5 });
  await jobs.listJobs(requester, { batchId: batch.id, pageSize: 5 });
  await jobs.listJobs(requester, { batchId: batch.id, orderBy: 'modifyTime', pageSize: 5 });

  // A compute node's executions and checkpoints.
  const executions = storage.executionStore;
  const own = [];
  for (let i = 0; i < 10; i++) {
    own.push(await executions.createExecution(compute, { jobId: `job-${i}`, requesterNodeId: requester, requestId: `c-${i}`, jobSpec: { i } }));
  }
  await executions.getExecution(compute, own[0]!.id);
  await executions.listExecutions(compute, { pageSize: 5 });
  await executions.listExecutions(compute, { jobId: 'job-1', pageSize: 5 });
  await executions.listExecutions(compute, { states: ['CREATED'], pageSize: 5, descending: true });
  await executions.listExecutions(compute, { requesterNodeId: requester, pageSize: 5 });
  await executions.updateExecutionState(compute, { executionId: own[0]!.id, newState: 'BID_ACCEPTED' });
  await executions.getExecutionHistory(compute, { executionId: own[0]!.id, pageSize: 5 });
  await executions.getCounters(compute);
  await executions.updateExecutionState(compute, { executionId: own[1]!.id, newState: 'BID_REJECTED' });
  await executions.deleteExecution(compute, own[1]!.id);
  await storage.executionHistory.readPage(compute, { fromRevision: 1, filter: {}, limit: 20 });
  await storage.checkpointStore.putCheckpoint(compute, 'compute', { name: 'cp/a', data: new Uint8Array([1]) });
  await storage.checkpointStore.getCheckpoint(compute, 'compute', 'cp/a');
  await storage.checkpointStore.listCheckpoints(compute, 'compute', { prefix: 'cp/', pageSize: 5 });

  // Leases, locks, the node registry and tokens in coordination.db.
  const leases = storage.leaseStore;
  await leases.keepAlive(lease.id);
  await leases.timeToLive(lease.id);
  await leases.list({ pageSize: 5 });
  const locks = storage.lockStore;
  const held1 = await locks.acquire({ name: '/app/a', leaseId: lease.id });
  await locks.get('/app/a');
  await locks.list({ prefix: '/app/', pageSize: 5 });
  await locks.release('/app/a', lease.id, Number(held1.fencingToken));
  await locks.acquire({ name: '/app/b', leaseId: lease.id });
  await locks.forceRelease('/app/b');
  const registry = storage.nodeRegistry;
  await registry.register({ id: requester, kind: 'requester', address: '127.0.0.1:1', labels: { zone: 'a' }, leaseId: lease.id });
  await registry.get(requester);
  await registry.list({ pageSize: 5 });
  await registry.list({ kind: 'requester', online: true, labelSelector: { zone: 'a' }, pageSize: 5 });
  const { token, accessToken } = await storage.accessTokens.create({ name: 'agent', role: 'agent', nodeIds: [requester] });
  await storage.accessTokens.authenticate(token);
  await storage.accessTokens.list();
  await storage.accessTokens.revoke(accessToken.id);

  // A lease that ends gives back its claims; retention runs over both node databases.
  const second = await leases.grant(60);
  await storage.workQueues.claimJob(requester, { queue: 'q1', leaseId: second.id });
  await leases.revoke(second.id);
  await storage.claims.returnOrphanedClaims();
  await leases.expireDue();
  for (const dryRun of [true, false]) {
    await storage.retention.runOne('requester', requester, { dryRun });
    await storage.retention.runOne('compute', compute, { dryRun });
  }
  await registry.unregister(requester);

  // A drain moves the live jobs, their request ids with them, to another requester.
  await storage.admin.drainNode(requester, 'req-2');
}

/** Statements whose plan could hold a scan: reads, changes by condition, and inserts from a query. */
function mayScan(statement: string): boolean {
  const sql = statement.replace(/^(\s*--[^\n]*\n)+/, '');
  if (/^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|CREATE|DROP|ALTER|ANALYZE)\b/i.test(sql)) return false;
  return !/^\s*INSERT\b/i.test(sql) || /\bSELECT\b/i.test(sql);
}

/** Each statement's plan, on the first of `files` whose schema it compiles against. */
function explainAll(statements: string[], files: string[]): { sql: string; plan: string[] }[] {
  const databases = files.map((file) => new Database(file, { readonly: true }));
  try {
    return statements.map((sql) => {
      for (const db of databases) {
        let explain;
        try {
          explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
        } catch {
          continue;
        }
        return { sql, plan: (explain.all() as { detail: string }[]).map((row) => row.detail) };
      }
      throw new Error(`no database compiles: ${sql.slice(0, 300)}`);
    });
  } finally {
    for (const db of databases) db.close();
  }
}

/**
 * Tables a scan may read whole: one row per state (the counters) or per setting; the access
 * tokens, a handful per cluster, which the admin lists whole; and the notes of leases with
 * claims, which only the pass at start (and its retries) reads whole, to find the orphans.
 */
const SMALL_TABLES = ['job_state_counts', 'execution_state_counts', 'store_meta', 'sqlite_sequence', 'access_tokens', 'lease_claims'];

/** The jobs a drain has frozen: one group of a drain at most, however many it moved out. */
const BOUNDED_INDEXES = ['job_moves_frozen'];

function isUnboundedScan(detail: string, sql: string, plan: string[]): boolean {
  const scan = /^SCAN (\S+)(?: USING (?:COVERING )?INDEX (\S+))?/.exec(detail);
  if (scan === null) return false;
  const [, table, index] = scan;
  if (SMALL_TABLES.includes(table!) || /^(CONSTANT|json_each|json_tree)$/.test(table!)) return false;
  if (index !== undefined && BOUNDED_INDEXES.includes(index)) return false;
  // A page: rows read in the order the page asks for, from a key that has it (no sort), until
  // the LIMIT. Without ORDER BY, a LIMIT bounds only what is returned, not what is read.
  const page = /\bORDER BY\b[^]*\bLIMIT\b/i.test(sql) && !plan.some((step) => step.includes('TEMP B-TREE'));
  return !page;
}
