import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPUTE, REQUESTER, createJobs, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { ADMIN_MAIN, adminJson, runAdmin } from './test-support/admin-processes.js';

const SOURCE = `${REQUESTER}-requester`;

/** An export's lines: a header, then one per row. */
function exportLines(stdout: string): string[] {
  return stdout.trimEnd().split('\n');
}

describe('jobkeep-admin export and import', () => {
  const cluster = useAdminCluster();

  it('through the server: an import into a new node reproduces every row, and a second import changes nothing', async () => {
    const started = await cluster.start();
    await seed(started);
    await createJobs(started, REQUESTER, 50);
    const file = path.join(started.dir, 'req-1.jsonl');
    const written = await adminJson<{ file: string; lines: number }>([...started.live, 'export', SOURCE, '-o', file]);
    const lines = exportLines(fs.readFileSync(file, 'utf8'));
    expect(written).toEqual({ database: SOURCE, file, lines: lines.length });
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'jobkeep-export', kind: 'requester' });

    const first = await adminJson([...started.live, 'import', 'req-2-requester', file]);
    expect(first).toEqual({ database: 'req-2-requester', rowsImported: lines.length - 1, unchanged: false });
    const copy = await runAdmin([...started.live, 'export', 'req-2-requester']);
    expect(exportLines(copy.stdout)).toEqual(lines);

    const second = await adminJson<{ unchanged: boolean }>([...started.live, 'import', 'req-2-requester', file]);
    expect(second.unchanged).toBe(true);
    expect((await runAdmin([...started.live, 'export', 'req-2-requester'])).stdout).toBe(copy.stdout);
    // The new node's jobs are real jobs to the server.
    const { jobs } = await started.jobs.listJobs({ nodeId: 'req-2', pageSize: 1000 });
    expect(jobs).toHaveLength(54);
    expect((await runAdmin([...started.live, 'check', 'req-2-requester'])).code).toBe(0);
  });

  it('on the files: export piped into import (stdin), for requester and compute databases', async () => {
    const started = await cluster.start();
    await seed(started);
    await started.stop();
    for (const [source, target] of [
      [SOURCE, 'req-3-requester'],
      [`${COMPUTE}-compute`, 'cmp-3-compute'],
    ] as const) {
      const exported = await runAdmin([...started.offline, 'export', source]);
      expect(exported.code).toBe(0);
      const first = await runAdmin([...started.offline, 'import', target, '--json'], { input: exported.stdout });
      expect(JSON.parse(first.stdout)).toMatchObject({ rowsImported: exportLines(exported.stdout).length - 1, unchanged: false });
      expect((await runAdmin([...started.offline, 'export', target])).stdout).toBe(exported.stdout);
      const second = await runAdmin([...started.offline, 'import', target], { input: exported.stdout });
      expect(second).toMatchObject({ code: 0, stdout: expect.stringContaining('nothing changed') });
      expect((await runAdmin([...started.offline, 'check', target])).code).toBe(0);
    }
    const { databases } = await adminJson<{ databases: { name: string; lifecycle: string }[] }>([...started.offline, 'databases']);
    expect(databases.map((info) => info.name)).toEqual(expect.arrayContaining(['req-3-requester', 'cmp-3-compute']));
  });

  it('exits 141, quietly, when its reader closes the pipe before the export is written (export | head)', async () => {
    const started = await cluster.start();
    // Far more than a pipe holds, so that the export is still writing when the reader leaves.
    await createJobs(started, REQUESTER, 300, 1024);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('JOBKEEP_')));
    for (const target of [started.live, started.offline]) {
      const child = spawn(process.execPath, [ADMIN_MAIN, ...target, 'export', SOURCE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = once(child, 'exit');
      // As `head -1` does: read the first lines, then close the pipe.
      await once(child.stdout, 'data');
      child.stdout.destroy();
      const [code] = (await exited) as [number | null];
      expect(code, `${target[0]}: ${stderr}`).toBe(141);
      expect(stderr).toBe('');
    }
  });

  it('refuses to import into a database that holds other rows, and a file that is not an export', async () => {
    const started = await cluster.start();
    await seed(started);
    const exported = await runAdmin([...started.live, 'export', SOURCE]);
    await createJobs(started, 'other', 1);
    const clash = await runAdmin([...started.live, 'import', 'other-requester'], { input: exported.stdout });
    expect(clash.code).toBe(4);
    expect(clash.stderr).toMatch(/^jobkeep-admin: (FAILED_PRECONDITION|ALREADY_EXISTS): /);
    const garbage = await runAdmin([...started.live, 'import', 'fresh-requester'], { input: 'not json\n' });
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/^jobkeep-admin: INVALID_ARGUMENT: /);
    expect((await runAdmin([...started.live, 'import', 'fresh-requester', path.join(started.dir, 'missing.jsonl')])).code).toBe(3);
  });
});
