import fs from 'node:fs';
import path from 'node:path';
import { launchServer } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import type { CheckReport } from './commands/check.js';
import { REQUESTER, createJobs, useAdminCluster } from './test-support/admin-fixture.js';
import { runAdmin } from './test-support/admin-processes.js';
import { damageRootPage } from './test-support/damaged-page.js';

const DATABASE = `${REQUESTER}-requester`;

describe('jobkeep-admin on a file with a damaged page', () => {
  const cluster = useAdminCluster();

  it('check reports the damage (exit 1), and compact and backup publish no damaged copy (exit 4), live, offline and with --file', async () => {
    const started = await cluster.start();
    await createJobs(started, REQUESTER, 300, 50);
    await started.stop();
    const file = path.join(started.dataDir, `${DATABASE}.db`);
    damageRootPage(file, 'jobs');
    // A server over the damaged data directory: it opens a node database only when one is used.
    const { address } = await launchServer(cluster.processes, started.dataDir);
    const live = ['--server', address];
    const single = ['--file', file];

    for (const target of [live, started.offline]) {
      const checked = await runAdmin([...target, 'check']);
      expect(checked.code, checked.stderr).toBe(1);
      expect(checked.stdout).toContain('coordination: ok');
      expect(checked.stdout).toMatch(new RegExp(`${DATABASE}: \\d+ problems`));
      expect(checked.stdout).toContain('2nd reference to page');
      expect(checked.stdout).toContain('1 of 2 databases have problems');
    }
    for (const target of [live, started.offline, single]) {
      const checked = await runAdmin([...target, 'check', ...(target === single ? [] : [DATABASE]), '--json']);
      expect(checked.code, checked.stderr).toBe(1);
      const report = JSON.parse(checked.stdout) as CheckReport;
      expect(report).toMatchObject({ ok: false, databases: [{ database: DATABASE }] });
      expect(report.databases[0]!.problems).toContainEqual({ check: 'integrity', message: 'the check could not read the file: database disk image is malformed' });
      expect(report.databases[0]!.problems.every((problem) => problem.check === 'integrity')).toBe(true);
    }

    const refusal = new RegExp(
      `^jobkeep-admin: FAILED_PRECONDITION: the copy of \\S*${DATABASE}\\.db fails quick_check \\(.+\\): the source is damaged; run check on it\\n$`,
    );
    for (const [name, target] of [['live', live], ['offline', started.offline], ['file', single]] as const) {
      const dest = path.join(started.dir, `${name}-compact.db`);
      const compacted = await runAdmin([...target, 'compact', ...(target === single ? [] : [DATABASE]), '-o', dest]);
      expect(compacted.code, `${name}: ${compacted.stderr}`).toBe(4);
      expect(compacted.stderr).toMatch(refusal);
      expect(compacted.stdout).toBe('');
      if (target === single) continue;
      const backupDir = path.join(started.dir, `${name}-backup`);
      const backedUp = await runAdmin([...target, 'backup', backupDir, DATABASE]);
      expect(backedUp.code, `${name}: ${backedUp.stderr}`).toBe(4);
      expect(backedUp.stderr).toMatch(refusal);
      expect(fs.readdirSync(backupDir)).toEqual([]);
    }
    // No copy, whole or partial, under any name.
    expect(fs.readdirSync(started.dir).filter((name) => name !== 'data').sort()).toEqual(['live-backup', 'offline-backup']);
  });
});
