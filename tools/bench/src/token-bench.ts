import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLeaseClient, createLockClient } from '@jobkeep/client';
import { openStorage } from '@jobkeep/store';
import { measure, type Measurement } from './measure.js';
import { startJobkeep, type ServerProcess } from './server-process.js';

const NODE = 'bench-node';

/**
 * What tokens cost a lock: Acquire+Release on a new name each time, at 1 and 64 in flight, a
 * lease per caller, against three servers in one run: without authentication (the baseline),
 * with an agent token for every node, and with an agent token of one node, whose every write
 * that names a lease first reads the lease's owner (waiting for coordination.db's open commit,
 * call-authentication.ts). Each server has its own data directory; the tokens are made before
 * it starts, as `jobkeep-admin tokens create` would.
 */
export async function tokenBench(scale: number): Promise<Measurement[]> {
  const results: Measurement[] = [];
  // nodeIds: the agent token's nodes (every node when empty); no token, and no authentication, without.
  for (const setting of [
    { name: 'no authentication', nodeIds: undefined },
    { name: 'agent token of every node', nodeIds: [] },
    { name: 'agent token of one node (lease owner checked)', nodeIds: [NODE] },
  ]) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-tokens-'));
    let server: ServerProcess | undefined;
    try {
      const token = setting.nodeIds === undefined ? undefined : await createToken(dataDir, setting.nodeIds);
      server = await startJobkeep(dataDir, token === undefined ? [] : ['--auth', 'token']);
      const leases = createLeaseClient(server.address, { token });
      const locks = createLockClient(server.address, { token });
      try {
        for (const concurrency of [1, 64]) {
          const owned = await Promise.all(Array.from({ length: concurrency }, async () => (await leases.grant({ ttlSeconds: 600n })).lease!.id));
          const idle = [...owned];
          results.push(
            await measure(
              `Acquire+Release, a new name each time, ${setting.name}, ${concurrency} in flight`,
              { ops: Math.round(2000 * scale), warmup: 500, concurrency, serverPid: server.child.pid! },
              async (i) => {
                // A free list: no two calls in flight share a lease.
                const leaseId = idle.pop()!;
                const name = `/bench/${concurrency}/${i}`;
                const { fencingToken } = await locks.acquire({ name, leaseId });
                await locks.release({ name, leaseId, fencingToken });
                idle.push(leaseId);
              },
            ),
          );
          await Promise.all(owned.map((leaseId) => leases.revoke({ leaseId })));
        }
      } finally {
        leases.close();
        locks.close();
      }
    } finally {
      await server?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}

/**
 * An agent token of `nodeIds` (every node when empty), made on the data directory before the
 * server starts, with the admin token a server with authentication needs; the agent's secret.
 */
async function createToken(dataDir: string, nodeIds: string[]): Promise<string> {
  const storage = openStorage({ dataDir });
  try {
    await storage.accessTokens.create({ name: 'root', role: 'admin', nodeIds: [] });
    return (await storage.accessTokens.create({ name: 'bench', role: 'agent', nodeIds })).token;
  } finally {
    storage.close();
  }
}
