import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { holdLock, requestsOf } from './test-support/lock-holders.js';

// The built server, as `npm start` runs it; the test target builds it first.
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('leases and locks across a server restart', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const clientsOf = useCoordinationClients();
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the server process on `dataDir` and resolves with its address once it serves. */
  const launch = (dataDir: string) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: dataDir, JOBKEEP_LEASE_SWEEP_INTERVAL_MS: '100' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const address = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (text) => {
        const line = JSON.parse(text) as { msg: string; address?: string };
        if (line.msg === 'jobkeep serving') resolve(line.address!);
      });
      child.on('exit', (code) => reject(new Error(`the server exited with ${code} before serving`)));
    });
    return { child, address, exited };
  };

  it('keeps every lease, with a fresh TTL from the restart, and every lock with its holder and token', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-restart-'));
    dirs.push(dataDir);
    const first = launch(dataDir);
    const before = clientsOf(await first.address);
    const held = await holdLock(before, '/locks/survivor', 3);
    const waiting = (await before.leases.grant({ ttlSeconds: 60n })).lease!.id;
    // A crash, not a clean stop: what was acknowledged must be on disk.
    first.child.kill('SIGKILL');
    await first.exited;
    // Down for longer than the lease's TTL: without a fresh TTL it would expire at once.
    await sleep(3_500);

    const second = launch(dataDir);
    const after = clientsOf(await second.address);
    const ttl = await after.leases.timeToLive({ leaseId: held.leaseId });
    expect(ttl.locks).toEqual(['/locks/survivor']);
    expect(ttl.remainingMs).toBeGreaterThan(1_000n);
    expect(ttl.remainingMs).toBeLessThanOrEqual(3_000n);
    expect((await after.locks.get({ name: '/locks/survivor' })).lock).toMatchObject({
      holderLeaseId: held.leaseId,
      fencingToken: held.fencingToken,
      waiterLeaseIds: [],
    });
    // The holder carries on: it can renew its lease and release with its old token.
    const renewed = [];
    for await (const response of after.leases.keepAlive(requestsOf({ leaseId: held.leaseId }))) renewed.push(response);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]).toMatchObject({ leaseId: held.leaseId, ttlSeconds: 3n });
    await after.locks.release({ name: '/locks/survivor', leaseId: held.leaseId, fencingToken: held.fencingToken });
    // The counter survived too: the next token is larger than any before the restart.
    const next = await after.locks.acquire({ name: '/locks/survivor', leaseId: waiting });
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
