import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { DatabaseLocations, listDatabaseInfos } from '@jobkeep/store';
import { eventually } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { createJobs, useAdminCluster } from './test-support/admin-fixture.js';
import { ADMIN_MAIN, adminJson } from './test-support/admin-processes.js';

describe('jobkeep-admin drain, interrupted', () => {
  const cluster = useAdminCluster();

  it('stops after the job being moved on SIGINT, exits 130, and a second run finishes the drain', async () => {
    const started = await cluster.start();
    await createJobs(started, 'src', 1000, 64, 32);
    await started.stop();

    const child = spawn(process.execPath, [ADMIN_MAIN, ...started.offline, 'drain', '--from', 'src', '--to', 'dst'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // Once the source is DRAINING, the command is inside the drain, its SIGINT handler in place.
    const locations = new DatabaseLocations({ dataDir: started.dataDir });
    await eventually(() => listDatabaseInfos(locations).find((info) => info.name === 'src-requester')?.lifecycle === 'DRAINING', { intervalMs: 10 });
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(130);
    expect(stderr).toContain('stopping after the job being moved');

    const partly = listDatabaseInfos(locations);
    expect(partly.find((info) => info.name === 'src-requester')!.lifecycle).toBe('DRAINING');
    const movedSoFar = partly.find((info) => info.name === 'dst-requester')?.counts.PENDING ?? 0;
    expect(movedSoFar).toBeLessThan(1000);

    const finished = await adminJson<{ retired: boolean }>([...started.offline, 'drain', '--from', 'src', '--to', 'dst']);
    expect(finished.retired).toBe(true);
    const after = listDatabaseInfos(locations);
    expect(after.find((info) => info.name === 'dst-requester')!.counts.PENDING).toBe(1000);
    expect(after.find((info) => info.name === 'src-requester')).toMatchObject({ lifecycle: 'RETIRED' });
    expect(after.find((info) => info.name === 'src-requester')!.counts.PENDING ?? 0).toBe(0);
  });
});
