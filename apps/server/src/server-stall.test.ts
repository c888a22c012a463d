import { describe, expect, it } from 'vitest';
import { eventually, sleep, useCoordinationClients } from './test-support/coordination-clients.js';
import { failsWith } from './test-support/fails-with.js';
import { holdLock, requestsOf } from './test-support/lock-holders.js';
import { useServerProcesses } from './test-support/server-processes.js';

const STALL_LOGGED = 'the server ran nothing for longer than --lease-stall-tolerance-ms; that time was given back to the leases alive then';

describe('leases and locks across a server that stood still', () => {
  const processes = useServerProcesses();
  const clientsOf = useCoordinationClients();
  const launch = (env: Record<string, string> = {}) =>
    processes.launch([], { JOBKEEP_LISTEN: '127.0.0.1:0', JOBKEEP_DATA_DIR: processes.tempDir(), JOBKEEP_LEASE_SWEEP_INTERVAL_MS: '100', ...env });

  /** Stops the server process for `ms`, as a virtual machine's pause or a disk that holds an fsync would. */
  async function pause(server: ReturnType<typeof launch>, ms: number): Promise<void> {
    server.child.kill('SIGSTOP');
    await sleep(ms);
    server.child.kill('SIGCONT');
  }

  it('gives the time back to its leases: a 3 s lease outlives a 4 s pause with its lock, and its holder renews it', async () => {
    const server = launch({ JOBKEEP_METRICS_LISTEN: '127.0.0.1:0' });
    const clients = clientsOf(await server.address);
    const held = await holdLock(clients, '/locks/paused', 3);

    const linesBefore = server.lines.length;
    await pause(server, 4_000);
    // 4 s, less the 500 ms tolerance; any stall of the server's start was logged before.
    const credited = () => server.lines.slice(linesBefore).find((line) => line.msg === STALL_LOGGED && Number(line.creditedMs) >= 3_000);
    await eventually(async () => credited() !== undefined);
    expect(credited()!.leases).toBe(1);

    const renewed = [];
    for await (const response of clients.leases.keepAlive(requestsOf({ leaseId: held.leaseId }))) renewed.push(response);
    expect(renewed).toEqual([expect.objectContaining({ leaseId: held.leaseId, ttlSeconds: 3n })]);
    expect((await clients.locks.get({ name: '/locks/paused' })).lock).toMatchObject({ holderLeaseId: held.leaseId, fencingToken: held.fencingToken });

    const { metricsAddress } = await server.waitFor('jobkeep serving');
    const metrics = await (await fetch(`http://${String(metricsAddress)}/metrics`)).text();
    const creditedSeconds = /^jobkeep_lease_stall_credited_seconds_total (\S+)$/m.exec(metrics);
    expect(Number(creditedSeconds?.[1])).toBeGreaterThanOrEqual(3);
  });

  it('counts every stall against its leases with --lease-stall-tolerance-ms 0: the lease ends and its lock is free', async () => {
    const server = launch({ JOBKEEP_LEASE_STALL_TOLERANCE_MS: '0' });
    const clients = clientsOf(await server.address);
    const held = await holdLock(clients, '/locks/paused', 2);

    await pause(server, 3_000);
    await eventually(async () => (await clients.locks.get({ name: '/locks/paused' })).lock?.holderLeaseId === 0n);
    await expect(clients.leases.timeToLive({ leaseId: held.leaseId })).rejects.toEqual(failsWith('NOT_FOUND'));
    expect(server.lines.some((line) => line.msg === STALL_LOGGED)).toBe(false);
  });
});
