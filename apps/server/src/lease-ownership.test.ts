import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobState, JobStore, LeaseService, LockService, NodeDatabaseKind, NodeRegistry, createTypedClient } from '@jobkeep/api';
import { openStorage } from '@jobkeep/store';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failsWith } from './test-support/fails-with.js';
import { requestQueue } from './test-support/lock-holders.js';
import { useTestServers } from './test-support/test-server.js';

/** The tokens of the tests, by who holds them; node-a's agent has a second (rotated) token. */
const TOKENS = {
  admin: { role: 'admin', nodeIds: [] },
  'agent of every node': { role: 'agent', nodeIds: [] },
  'agent of node-a': { role: 'agent', nodeIds: ['node-a'] },
  'rotated agent of node-a': { role: 'agent', nodeIds: ['node-a'] },
  'agent of node-b': { role: 'agent', nodeIds: ['node-b'] },
  'agent of node-a and node-b': { role: 'agent', nodeIds: ['node-a', 'node-b'] },
} as const;
type Holder = keyof typeof TOKENS;

describe('whose leases a node-scoped token may use, with --auth token', () => {
  const servers = useTestServers();
  let root: string;
  let address: string;
  const secrets = new Map<Holder, string>();
  const opened: { close(): void }[] = [];

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-lease-owners-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  afterEach(() => {
    for (const client of opened.splice(0)) client.close();
  });

  /** A server with --auth token over a new data directory holding the tokens above, made offline. */
  async function startServer(): Promise<void> {
    const dataDir = fs.mkdtempSync(path.join(root, 'data-'));
    const storage = openStorage({ dataDir });
    try {
      for (const [name, { role, nodeIds }] of Object.entries(TOKENS)) {
        secrets.set(name as Holder, (await storage.accessTokens.create({ name: name.replaceAll(' ', '-'), role, nodeIds: [...nodeIds] })).token);
      }
    } finally {
      storage.close();
    }
    address = (await servers.start({ dataDir, auth: 'token' })).server.address;
  }

  /** The clients of `holder`, closed after the test. */
  function clientsOf(holder: Holder) {
    const options = { token: secrets.get(holder), defaultDeadlineMs: 5000, retries: false };
    const clients = {
      leases: createTypedClient(LeaseService, address, options),
      locks: createTypedClient(LockService, address, options),
      jobs: createTypedClient(JobStore, address, options),
      nodes: createTypedClient(NodeRegistry, address, options),
    };
    opened.push(...Object.values(clients));
    return clients;
  }

  const grant = async (holder: Holder) => (await clientsOf(holder).leases.grant({ ttlSeconds: 30n })).lease!.id;

  /** One KeepAlive message of `holder` for `leaseId`, on a stream of its own. */
  async function keepAliveOnce(holder: Holder, leaseId: bigint) {
    const queue = requestQueue<{ leaseId: bigint }>();
    const responses = clientsOf(holder).leases.keepAlive(queue.requests)[Symbol.asyncIterator]();
    queue.send({ leaseId });
    try {
      return (await responses.next()).value;
    } finally {
      queue.end();
    }
  }

  it("refuses every use of another node's lease, and changes nothing", async () => {
    await startServer();
    const leaseOfA = await grant('agent of node-a');
    const a = clientsOf('agent of node-a');
    const b = clientsOf('agent of node-b');
    const { fencingToken } = await a.locks.acquire({ name: '/locks/held-by-a', leaseId: leaseOfA });
    await b.jobs.createJob({ nodeId: 'node-b', job: { queue: 'work', state: JobState.QUEUED } });

    const refused = failsWith('PERMISSION_DENIED', `lease ${leaseOfA} was granted to a token of node node-a`, 'only leases of node node-b');
    await expect(b.leases.revoke({ leaseId: leaseOfA })).rejects.toEqual(refused);
    await expect(keepAliveOnce('agent of node-b', leaseOfA)).rejects.toEqual(refused);
    await expect(b.locks.acquire({ name: '/locks/b', leaseId: leaseOfA })).rejects.toEqual(refused);
    await expect(b.locks.release({ name: '/locks/held-by-a', leaseId: leaseOfA, fencingToken })).rejects.toEqual(refused);
    await expect(b.jobs.claimJob({ nodeId: 'node-b', queue: 'work', leaseId: leaseOfA })).rejects.toEqual(refused);
    await expect(
      b.nodes.register({ node: { id: 'node-b', kind: NodeDatabaseKind.COMPUTE, address: '127.0.0.1:1' }, leaseId: leaseOfA }),
    ).rejects.toEqual(refused);

    // All of it refused before it was done: the lease lives on, holding its lock and nothing else.
    const ttl = await a.leases.timeToLive({ leaseId: leaseOfA });
    expect(ttl).toMatchObject({ locks: ['/locks/held-by-a'], nodes: [] });
    await expect(b.locks.get({ name: '/locks/b' })).rejects.toEqual(failsWith('NOT_FOUND'));
    expect((await b.jobs.listJobs({ nodeId: 'node-b' })).jobs.map((job) => job.state)).toEqual([JobState.QUEUED]);

    // The owner does all of it.
    expect(await keepAliveOnce('agent of node-a', leaseOfA)).toMatchObject({ leaseId: leaseOfA });
    await a.locks.release({ name: '/locks/held-by-a', leaseId: leaseOfA, fencingToken });
    await a.leases.revoke({ leaseId: leaseOfA });
  });

  it('lets a token of the same nodes, or of more, use a lease; never a scoped token an unscoped one', async () => {
    await startServer();
    // A rotated token takes over its node's lease; a token of node-a and node-b may use it too.
    const leaseOfA = await grant('agent of node-a');
    expect(await keepAliveOnce('rotated agent of node-a', leaseOfA)).toMatchObject({ leaseId: leaseOfA });
    await clientsOf('agent of node-a and node-b').locks.acquire({ name: '/locks/shared', leaseId: leaseOfA });
    await clientsOf('rotated agent of node-a').leases.revoke({ leaseId: leaseOfA });

    // A lease of node-a and node-b is more than node-a's token may use.
    const leaseOfBoth = await grant('agent of node-a and node-b');
    await expect(clientsOf('agent of node-a').leases.revoke({ leaseId: leaseOfBoth })).rejects.toEqual(
      failsWith('PERMISSION_DENIED', 'granted to a token of nodes node-a, node-b'),
    );

    // A lease of a token of every node is no scoped token's; unscoped tokens use any lease.
    const leaseOfAll = await grant('agent of every node');
    await expect(clientsOf('agent of node-a and node-b').leases.revoke({ leaseId: leaseOfAll })).rejects.toEqual(
      failsWith('PERMISSION_DENIED', 'granted to a token of every node'),
    );
    const leaseOfB = await grant('agent of node-b');
    await clientsOf('agent of every node').leases.revoke({ leaseId: leaseOfB });
    await clientsOf('admin').leases.revoke({ leaseId: leaseOfAll });
    await clientsOf('admin').leases.revoke({ leaseId: leaseOfBoth });
  });

  it('refuses a lease id no lease has had yet, and leaves an ended lease to the usual answer', async () => {
    await startServer();
    const a = clientsOf('agent of node-a');
    // Were it let through, the id could be granted to another agent before the call is done.
    await expect(a.leases.revoke({ leaseId: 1000n })).rejects.toEqual(failsWith('NOT_FOUND', 'lease 1000 does not exist: it was never granted'));
    const ended = await grant('agent of node-b');
    await clientsOf('agent of node-b').leases.revoke({ leaseId: ended });
    await expect(a.leases.revoke({ leaseId: ended })).rejects.toEqual(failsWith('NOT_FOUND', `lease ${ended} does not exist: it expired, was revoked`));
  });
});
