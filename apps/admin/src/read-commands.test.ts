import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatabaseStatsView, DatabaseView, JobEventView, LockView, NodeView, TableView } from './admin-views.js';
import type { CheckReport } from './commands/check.js';
import { COMPUTE, LOCK, REQUESTER, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

const REQUESTER_DB = `${REQUESTER}-requester`;
const COMPUTE_DB = `${COMPUTE}-compute`;

/** What changes when a server stops: its write-ahead logs are checkpointed into the files. */
function withoutFileSizes(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field: unknown) => (['sizeBytes', 'fileBytes', 'walBytes'].includes(key) ? undefined : field));
}

describe('jobkeep-admin read commands, live and offline', () => {
  const cluster = useAdminCluster();

  it('print the same JSON through the server as from the files, while it runs and after it stopped', async () => {
    const started = await cluster.start();
    const seeded = await seed(started);
    const [render] = seeded.jobIds;
    const commands: string[][] = [
      ['databases'],
      ['counters'],
      ['check'],
      ['check', REQUESTER_DB, 'coordination'],
      ['tables', REQUESTER_DB],
      ['buckets', COMPUTE_DB],
      ['stats', REQUESTER_DB],
      ['stats', 'coordination'],
      ['keys', REQUESTER_DB, 'jobs'],
      ['keys', REQUESTER_DB, 'job_history', '--limit', '2'],
      ['keys', REQUESTER_DB, 'jobs', '--prefix', render!.slice(0, 6)],
      ['get', REQUESTER_DB, 'jobs', render!],
      ['get', COMPUTE_DB, 'executions', seeded.executionId],
      ['nodes'],
      ['locks'],
      ['history', render!, '--node', REQUESTER],
    ];
    const live = new Map<string, unknown>();
    for (const command of commands) {
      // Offline reads work beside the running server: read-only, one snapshot each.
      const [fromServer, fromFiles] = await Promise.all([adminJson([...started.live, ...command]), adminJson([...started.offline, ...command])]);
      expect(fromFiles, command.join(' ')).toEqual(fromServer);
      live.set(command.join(' '), fromServer);
    }
    const exported = await runAdmin([...started.live, 'export', REQUESTER_DB]);
    expect(exported.code).toBe(0);
    expect((await runAdmin([...started.offline, 'export', REQUESTER_DB])).stdout).toBe(exported.stdout);

    await started.stop();
    const afterStop = await Promise.all(commands.map((command) => adminJson([...started.offline, ...command])));
    commands.forEach((command, index) => {
      expect(withoutFileSizes(afterStop[index]), command.join(' ')).toEqual(withoutFileSizes(live.get(command.join(' '))));
    });
    expect((await runAdmin([...started.offline, 'export', REQUESTER_DB])).stdout).toBe(exported.stdout);

    // What they say.
    const { databases } = live.get('databases') as { databases: DatabaseView[] };
    expect(databases.map((info) => [info.name, info.kind, info.lifecycle])).toEqual([
      ['coordination', 'coordination', null],
      [COMPUTE_DB, 'compute', 'ACTIVE'],
      [REQUESTER_DB, 'requester', 'ACTIVE'],
    ]);
    expect(databases[0]!.path).toBe(path.join(started.dataDir, 'coordination.db'));
    expect(databases[2]!.counts).toMatchObject({ PENDING: 2, QUEUED: 1, CANCELLED: 1 });
    expect(live.get('counters')).toMatchObject({ databases: [{ database: COMPUTE_DB, counts: { CREATED: 1 } }, { database: REQUESTER_DB }] });
    expect((live.get('check') as CheckReport).ok).toBe(true);
    expect((live.get('check') as CheckReport).databases.map((entry) => entry.database)).toEqual(['coordination', COMPUTE_DB, REQUESTER_DB]);

    const { tables } = live.get(`tables ${REQUESTER_DB}`) as { tables: TableView[] };
    expect(tables.find((table) => table.name === 'jobs')).toEqual({ name: 'jobs', rows: 4, keyColumns: ['id'] });
    const stats = live.get(`stats ${REQUESTER_DB}`) as DatabaseStatsView;
    expect(stats.objects.find((object) => object.name === 'jobs')).toMatchObject({ type: 'table', rows: 4 });
    expect(stats.history).toMatchObject({ rows: expect.any(Number), firstRevision: 1 });
    expect((live.get('stats coordination') as DatabaseStatsView).history).toBeNull();

    expect(live.get(`keys ${REQUESTER_DB} jobs`)).toEqual({ database: REQUESTER_DB, table: 'jobs', keys: [...seeded.jobIds].sort(), truncated: false });
    expect(live.get(`keys ${REQUESTER_DB} job_history --limit 2`)).toMatchObject({ keys: ['1', '2'], truncated: true });
    expect(live.get(`get ${REQUESTER_DB} jobs ${render}`)).toMatchObject({ rows: [{ id: render, name: 'render' }] });

    const { nodes } = live.get('nodes') as { nodes: NodeView[] };
    expect(nodes).toEqual([expect.objectContaining({ id: COMPUTE, kind: 'compute', online: true, labels: { zone: 'a' }, leaseId: Number(seeded.leaseId) })]);
    const { locks } = live.get('locks') as { locks: LockView[] };
    expect(locks).toEqual([expect.objectContaining({ name: LOCK, holderLeaseId: Number(seeded.leaseId) })]);
    const { events } = live.get(`history ${render} --node ${REQUESTER}`) as { events: JobEventView[] };
    expect(events.map((event) => event.type)).toEqual(['JOB_CREATED', 'EXECUTION_CREATED']);
    expect(events[0]).toMatchObject({ jobId: render, previousState: '', newState: 'PENDING' });
  }, 120_000);

  it('read a single file with --file, naming no database, as they read it in its data directory', async () => {
    const started = await cluster.start();
    const seeded = await seed(started);
    await started.stop();
    const file = ['--file', path.join(started.dataDir, `${REQUESTER_DB}.db`)];
    const pairs: [string[], string[]][] = [
      [['tables'], ['tables', REQUESTER_DB]],
      [['stats'], ['stats', REQUESTER_DB]],
      [['keys', 'jobs'], ['keys', REQUESTER_DB, 'jobs']],
      [['get', 'jobs', seeded.queuedJobId], ['get', REQUESTER_DB, 'jobs', seeded.queuedJobId]],
      [['check'], ['check', REQUESTER_DB]],
    ];
    for (const [single, inDir] of pairs) {
      expect(await adminJson([...file, ...single]), single.join(' ')).toEqual(await adminJson([...started.offline, ...inDir]));
    }
    expect((await runAdmin([...file, 'export'])).stdout).toBe((await runAdmin([...started.offline, 'export', REQUESTER_DB])).stdout);
    // The kind comes from the tables: coordination.db is checked as coordination.
    const coordination = await adminJson<CheckReport>(['--file', path.join(started.dataDir, 'coordination.db'), 'check']);
    expect(coordination).toEqual({ ok: true, databases: [{ database: 'coordination', problems: [] }] });
  });

  it('print tables for people', async () => {
    const started = await cluster.start();
    const seeded = await seed(started);
    const databases = await runAdmin([...started.live, 'databases']);
    expect(databases.code).toBe(0);
    expect(databases.stdout).toMatch(/NAME\s.*KIND\s.*LIFECYCLE/);
    expect(databases.stdout).toMatch(new RegExp(`${REQUESTER_DB}\\s.*requester\\s.*ACTIVE`));
    const check = await runAdmin([...started.offline, 'check']);
    expect(check).toMatchObject({ code: 0, stdout: expect.stringContaining(`${REQUESTER_DB}: ok`) });
    expect(check.stdout).toContain('3 databases are consistent');
    const keys = await runAdmin([...started.live, 'keys', REQUESTER_DB, 'jobs']);
    expect(keys.stdout.trim().split('\n')).toEqual([...seeded.jobIds].sort());
    const get = await runAdmin([...started.offline, 'get', REQUESTER_DB, 'jobs', seeded.queuedJobId]);
    expect(JSON.parse(get.stdout)).toMatchObject({ id: seeded.queuedJobId, state: 'QUEUED', queue: 'ingest' });
    const locks = await runAdmin([...started.live, 'locks']);
    expect(locks.stdout).toContain(LOCK);
  });
});
