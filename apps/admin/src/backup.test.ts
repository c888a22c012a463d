import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatabaseView } from './admin-views.js';
import { COMPUTE, REQUESTER, createJobs, seed, useAdminCluster, type AdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

const DATABASE = `${REQUESTER}-requester`;

/** Creates jobs through gRPC, a few at a time, until stopped. */
function keepWriting(cluster: AdminCluster): { created: () => number; stop: () => Promise<number> } {
  let stopped = false;
  let created = 0;
  const writers = Array.from({ length: 4 }, async () => {
    while (!stopped) {
      await cluster.jobs.createJob({ nodeId: REQUESTER, job: { spec: { executor: 'noop', padding: 'y'.repeat(512) } } });
      created += 1;
    }
  });
  return {
    created: () => created,
    async stop() {
      stopped = true;
      await Promise.all(writers);
      return created;
    },
  };
}

/** Every copy opens and passes check, and holds at least the jobs created before the backup began. */
async function expectGoodBackup(dest: string, names: string[], jobsBefore: number) {
  expect(fs.readdirSync(dest).sort()).toEqual(names.map((name) => `${name}.db`).sort());
  for (const name of names) {
    const check = await runAdmin(['--file', path.join(dest, `${name}.db`), 'check']);
    expect(check, `${name}: ${check.stdout}`).toMatchObject({ code: 0 });
  }
  const { tables } = await adminJson<{ tables: { name: string; rows: number }[] }>(['--file', path.join(dest, `${DATABASE}.db`), 'tables']);
  expect(tables.find((table) => table.name === 'jobs')!.rows).toBeGreaterThanOrEqual(jobsBefore);
}

describe('jobkeep-admin backup', () => {
  const cluster = useAdminCluster();

  it('copies every database consistently while a writer keeps creating jobs, through the server and on the files', async () => {
    const started = await cluster.start();
    await seed(started);
    await createJobs(started, REQUESTER, 200, 512);
    const writer = keepWriting(started);
    const all = ['coordination', `${COMPUTE}-compute`, DATABASE];

    const writtenBefore = writer.created();
    const before = 204 + writtenBefore;
    const liveDest = path.join(started.dir, 'live-backup');
    const live = await adminJson<{ dest: string; databases: { database: string; file: string; copyBytes: number }[] }>([...started.live, 'backup', liveDest]);
    expect(live.databases.map((copy) => copy.database)).toEqual(all);
    for (const copy of live.databases) expect(copy.copyBytes).toBe(fs.statSync(copy.file).size);
    // The writer was not idle meanwhile.
    expect(writer.created()).toBeGreaterThan(writtenBefore);

    // Offline reads need no server, and take the copy beside the one writing.
    const offlineDest = path.join(started.dir, 'offline-backup');
    const offline = await runAdmin([...started.offline, 'backup', offlineDest, DATABASE]);
    expect(offline).toMatchObject({ code: 0, stdout: expect.stringContaining(DATABASE) });

    await writer.stop();
    await expectGoodBackup(liveDest, all, before);
    await expectGoodBackup(offlineDest, [DATABASE], before);
  });

  it('leaves a backup that reads as itself: its own files, sizes and counts, and check reports a file missing from it', async () => {
    const started = await cluster.start();
    await seed(started);
    const dest = path.join(started.dir, 'restored');
    expect((await runAdmin([...started.live, 'backup', dest])).code).toBe(0);
    // The live databases move on; the backup must not follow them.
    await createJobs(started, REQUESTER, 3);
    const restored = ['--data-dir', dest];

    const { databases } = await adminJson<{ databases: DatabaseView[] }>([...restored, 'databases']);
    const all = ['coordination', `${COMPUTE}-compute`, DATABASE];
    expect(databases.map((info) => [info.name, info.path, info.exists])).toEqual(all.map((name) => [name, path.join(dest, `${name}.db`), true]));
    const requester = databases.find((info) => info.name === DATABASE)!;
    expect(requester.counts).toEqual({ PENDING: 2, QUEUED: 1, CANCELLED: 1 });
    expect(requester.sizeBytes).toBe(fs.statSync(path.join(dest, `${DATABASE}.db`)).size);

    fs.rmSync(path.join(dest, `${COMPUTE}-compute.db`));
    const checked = await runAdmin([...restored, 'check', '--json']);
    expect(checked.code, checked.stderr).toBe(1);
    expect(JSON.parse(checked.stdout)).toEqual({
      ok: false,
      databases: [
        { database: 'coordination', problems: [] },
        { database: `${COMPUTE}-compute`, problems: [{ check: 'file', message: expect.stringContaining(path.join(dest, `${COMPUTE}-compute.db`)) }] },
        { database: DATABASE, problems: [] },
      ],
    });
  });

  it('copies the named databases of a stopped server into a new directory, refusing to overwrite', async () => {
    const started = await cluster.start();
    await seed(started);
    await started.stop();
    const dest = path.join(started.dir, 'nested', 'backup');
    expect((await runAdmin([...started.offline, 'backup', dest, DATABASE, 'coordination'])).code).toBe(0);
    await expectGoodBackup(dest, [DATABASE, 'coordination'], 4);
    const again = await runAdmin([...started.offline, 'backup', dest, DATABASE]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/ALREADY_EXISTS/);
  });
});
