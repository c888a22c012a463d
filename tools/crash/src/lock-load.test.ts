import { setTimeout as sleep } from 'node:timers/promises';
import { createLeaseClient, createLockClient } from '@jobkeep/client';
import { describe, expect, it } from 'vitest';
import { checkLocksAfterRestart, LockLedger, startLockLoad } from './lock-load.js';
import type { ServerProcess } from './server-process.js';
import { useFreshServers } from './test-support/fresh-servers.js';

// As the job checks: each case breaks one thing the server would have to break, and expects the finding.
describe('the lease and lock checks of the crash suite', () => {
  const { start } = useFreshServers();

  /** A server over a new data directory, after a short lock load whose writes all were acknowledged. */
  async function loaded(): Promise<{ server: ServerProcess; ledger: LockLedger }> {
    const { server } = await start();
    const ledger = new LockLedger();
    const problems: string[] = [];
    const load = startLockLoad(server.address, 3, 1, ledger, problems);
    await sleep(300);
    load.stop();
    await load.finished;
    expect(problems).toEqual([]);
    expect(ledger.inDoubt).toBe(0);
    expect(ledger.locks).toHaveLength(3);
    return { server, ledger };
  }

  it('find nothing when the server has every acknowledged lease and lock write', async () => {
    const { server, ledger } = await loaded();
    const problems: string[] = [];
    await checkLocksAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([]);
    expect(ledger.verified).toBe(6);
  });

  it('report a lease that is gone, a held lock that is free, and a released lock that is held', async () => {
    const { server, ledger } = await loaded();
    const [first, second] = ledger.locks as [(typeof ledger.locks)[0], (typeof ledger.locks)[0]];
    const leases = createLeaseClient(server.address);
    const locks = createLockClient(server.address);
    try {
      // The first lock as if its release had been lost; the second as if its acquire had.
      if (!first.held) await locks.acquire({ name: first.name, leaseId: first.leaseId });
      else await locks.release({ name: first.name, leaseId: first.leaseId, fencingToken: first.token });
      if (second.held) await locks.release({ name: second.name, leaseId: second.leaseId, fencingToken: second.token });
      else second.held = true;
      await leases.revoke({ leaseId: ledger.leases[2]! });
    } finally {
      leases.close();
      locks.close();
    }
    const problems: string[] = [];
    await checkLocksAfterRestart(server.address, ledger, problems, 1);
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^after cycle 1: lease ${ledger.leases[2]}, granted and acknowledged, is gone$`)),
      expect.stringContaining(`${first.name} was acknowledged`),
      expect.stringContaining(`${second.name} was acknowledged held`),
      // The revoked lease's lock was released with it.
      ...(ledger.locks[2]!.held ? [expect.stringContaining(`${ledger.locks[2]!.name} was acknowledged held`)] : []),
    ]);
  });
});
