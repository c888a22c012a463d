import fs from 'node:fs';
import path from 'node:path';
import { launchServer } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import type { DatabaseView } from './admin-views.js';
import { COMPUTE, REQUESTER, seed, useAdminCluster } from './test-support/admin-fixture.js';
import { adminJson, runAdmin } from './test-support/admin-processes.js';

const REQUESTER_DB = `${REQUESTER}-requester`;
const COMPUTE_DB = `${COMPUTE}-compute`;

describe('jobkeep-admin with the server’s --job-store-path and --compute-store-path', () => {
  const cluster = useAdminCluster();

  it('finds node databases where the templates put them, reading and writing, from flags or the environment', async () => {
    const elsewhere = cluster.processes.tempDir();
    const requesterTemplate = path.join(elsewhere, 'req', '{node}-requester.db');
    const computeTemplate = path.join(elsewhere, 'cmp', '{node}-compute.db');
    const templates = ['--job-store-path', requesterTemplate, '--compute-store-path', computeTemplate];
    const started = await cluster.start(templates);
    const seeded = await seed(started);
    const offline = [...started.offline, ...templates];

    const commands: string[][] = [
      ['databases'],
      ['check'],
      ['keys', REQUESTER_DB, 'jobs'],
      ['get', COMPUTE_DB, 'executions', seeded.executionId],
      ['history', seeded.jobIds[0]!, '--node', REQUESTER],
    ];
    for (const command of commands) {
      const fromServer = await adminJson([...started.live, ...command]);
      expect(await adminJson([...offline, ...command]), command.join(' ')).toEqual(fromServer);
      const fromEnv = await runAdmin([...started.offline, ...command, '--json'], {
        env: { JOBKEEP_JOB_STORE_PATH: requesterTemplate, JOBKEEP_COMPUTE_STORE_PATH: computeTemplate },
      });
      expect(JSON.parse(fromEnv.stdout), command.join(' ')).toEqual(fromServer);
    }
    const { databases } = await adminJson<{ databases: DatabaseView[] }>([...offline, 'databases']);
    expect(databases.map((info) => [info.name, info.path, info.exists])).toEqual([
      ['coordination', path.join(started.dataDir, 'coordination.db'), true],
      [COMPUTE_DB, path.join(elsewhere, 'cmp', `${COMPUTE_DB}.db`), true],
      [REQUESTER_DB, path.join(elsewhere, 'req', `${REQUESTER_DB}.db`), true],
    ]);
    // Without them the tool looks in the data directory, and says where it looked.
    const unfound = await runAdmin([...started.offline, 'keys', REQUESTER_DB, 'jobs']);
    expect(unfound.code).toBe(3);
    expect(unfound.stderr).toContain(path.join(started.dataDir, `${REQUESTER_DB}.db`));

    // Offline writes put a new database where the server looks for it.
    await started.stop();
    const exported = await runAdmin([...offline, 'export', REQUESTER_DB]);
    const imported = await runAdmin([...offline, 'import', 'req-2-requester', '--json'], { input: exported.stdout });
    expect(imported.code, imported.stderr).toBe(0);
    expect(fs.existsSync(path.join(elsewhere, 'req', 'req-2-requester.db'))).toBe(true);
    expect(fs.readdirSync(started.dataDir).filter((name) => name.includes('req-2'))).toEqual([]);

    const { address } = await launchServer(cluster.processes, started.dataDir, templates);
    const again = await adminJson<{ databases: DatabaseView[] }>(['--server', address, 'databases']);
    expect(again.databases.find((info) => info.name === 'req-2-requester')).toMatchObject({
      path: path.join(elsewhere, 'req', 'req-2-requester.db'),
      exists: true,
      counts: { PENDING: 2, QUEUED: 1, CANCELLED: 1 },
    });
    expect(await adminJson(['--server', address, 'keys', 'req-2-requester', 'jobs'])).toMatchObject({ keys: [...seeded.jobIds].sort() });
  });
});
