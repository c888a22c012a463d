import fs from 'node:fs';
import path from 'node:path';
import { JobState } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { REQUESTER, createJobs, useAdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

const DATABASE = `${REQUESTER}-requester`;
const GAIN_LINE = /^(\d+) -> (\d+) bytes \(gain=(\d+\.\d\d)x\)\n$/;

describe('jobkeep-admin compact', () => {
  const cluster = useAdminCluster();

  /** A requester database that held 120 jobs of 16 KB, 100 of them since cancelled and deleted. */
  async function startWithDeletes() {
    const started = await cluster.start();
    const ids = await createJobs(started, REQUESTER, 120, 16 * 1024);
    const doomed = ids.slice(20);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let jobId = doomed.pop(); jobId !== undefined; jobId = doomed.pop()) {
          await started.jobs.updateJobState({ nodeId: REQUESTER, jobId, newState: JobState.CANCELLED });
          await started.jobs.deleteJob({ nodeId: REQUESTER, jobId });
        }
      }),
    );
    return { started, kept: ids.slice(0, 20) };
  }

  /** The copy is smaller than the database was, passes check, and holds the jobs that were kept. */
  async function expectGoodCopy(dest: string, line: string, kept: string[]) {
    const match = GAIN_LINE.exec(line);
    expect(match, line).not.toBeNull();
    const [, before, after, gain] = match!;
    expect(Number(after)).toBe(fs.statSync(dest).size);
    expect(Number(after)).toBeLessThan(Number(before) / 2);
    expect(Number(gain)).toBeCloseTo(Number(before) / Number(after), 2);
    expect(await runAdmin(['--file', dest, 'check'])).toMatchObject({ code: 0 });
    const { keys } = await adminJson<{ keys: string[] }>(['--file', dest, 'keys', 'jobs']);
    expect(keys).toEqual([...kept].sort());
  }

  it('shrinks a database after mass deletes, through the server, and the copy passes check', async () => {
    const { started, kept } = await startWithDeletes();
    const dest = path.join(started.dir, 'compact.db');
    const result = await runAdmin([...started.live, 'compact', DATABASE, '-o', dest]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    await expectGoodCopy(dest, result.stdout, kept);
    // No partial file is left beside it.
    expect(fs.readdirSync(started.dir).filter((name) => name.includes('partial'))).toEqual([]);

    const json = await adminJson<{ database: string; sourceBytes: number; copyBytes: number; gain: number }>([...started.live, 'compact', DATABASE, '-o', `${dest}.2`]);
    expect(json).toMatchObject({ database: DATABASE, dest: `${dest}.2`, copyBytes: fs.statSync(`${dest}.2`).size });
    expect(json.gain).toBeGreaterThan(2);
  });

  it('shrinks a database on the files, in a data directory or a single file, and the copy passes check', async () => {
    const { started, kept } = await startWithDeletes();
    await started.stop();
    const dest = path.join(started.dir, 'offline.db');
    const result = await runAdmin([...started.offline, 'compact', DATABASE, '-o', dest]);
    expect(result.code).toBe(0);
    await expectGoodCopy(dest, result.stdout, kept);

    const single = path.join(started.dir, 'single.db');
    const fromFile = await runAdmin(['--file', path.join(started.dataDir, `${DATABASE}.db`), 'compact', '-o', single]);
    expect(fromFile.code).toBe(0);
    await expectGoodCopy(single, fromFile.stdout, kept);
  });

  it('never overwrites a file, and needs -o', async () => {
    const started = await cluster.start();
    await createJobs(started, REQUESTER, 1);
    const dest = path.join(started.dir, 'taken.db');
    fs.writeFileSync(dest, 'precious');
    for (const target of [started.live, started.offline]) {
      const result = await runAdmin([...target, 'compact', DATABASE, '-o', dest]);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/^jobkeep-admin: ALREADY_EXISTS: .*taken\.db already exists/);
      expect(fs.readFileSync(dest, 'utf8')).toBe('precious');
    }
    expect((await runAdmin([...started.live, 'compact', DATABASE])).code).toBe(2);
  });
});
