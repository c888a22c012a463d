import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { REQUESTER, createJobs, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { ADMIN_MAIN, runAdmin } from './test-support/admin-processes.js';

describe('jobkeep-admin check and progress', () => {
  const cluster = useAdminCluster();

  it('check exits 1 with a readable report when a database breaks an invariant, live and offline', async () => {
    const started = await cluster.start();
    await seed(started);
    const file = path.join(started.dataDir, `${REQUESTER}-requester.db`);
    // A counter that no longer matches the rows: what a write outside the store's transactions leaves.
    const raw = new Database(file);
    raw.prepare(`UPDATE job_state_counts SET count = count + 5 WHERE state = 'PENDING'`).run();
    raw.close();

    for (const target of [started.live, started.offline]) {
      const checked = await runAdmin([...target, 'check']);
      expect(checked.code, checked.stderr).toBe(1);
      expect(checked.stdout).toContain(`${REQUESTER}-requester`);
      expect(checked.stdout).toContain('job_state_counts says 7 jobs are PENDING, but 2 are');
      const json = await runAdmin([...target, 'check', `${REQUESTER}-requester`, '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, databases: [{ database: `${REQUESTER}-requester`, problems: [{ check: 'counters' }] }] });
    }
    expect((await runAdmin([...started.offline, 'check', 'coordination'])).code).toBe(0);
  });

  it('draws a progress bar on a terminal only; piped, stderr stays empty', async () => {
    const started = await cluster.start();
    await createJobs(started, REQUESTER, 200);
    await started.stop();
    const out = (name: string) => path.join(started.dir, name);

    const piped = await runAdmin([...started.offline, 'export', `${REQUESTER}-requester`, '-o', out('piped.jsonl')]);
    expect(piped).toMatchObject({ code: 0, stderr: '' });

    // script(1) runs the command on a pseudo-terminal and copies what it drew to its stdout.
    const command = [process.execPath, ADMIN_MAIN, ...started.offline, 'export', `${REQUESTER}-requester`, '-o', out('tty.jsonl')].join(' ');
    const onTerminal = spawnSync('script', ['-qefc', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
    expect(onTerminal.status, onTerminal.stderr).toBe(0);
    expect(onTerminal.stdout).toMatch(new RegExp(`export ${REQUESTER}-requester \\[.*\\] 100% \\d+/\\d+ lines`));
    expect(fs.readFileSync(out('tty.jsonl'), 'utf8')).toBe(fs.readFileSync(out('piped.jsonl'), 'utf8'));
  });
});
