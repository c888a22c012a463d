import { LeaseService, NodeDatabaseKind, NodeRegistry, type KeepAliveRequest, type ServiceHandlers } from '@jobkeep/api';
import { failedPrecondition, notFound } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { createLeaseClient, createNodeRegistryClient, registerUnderLease } from './index.js';
import { useScriptedServers } from './test-support/scripted-servers.js';

/*
 * Against real gRPC servers whose LeaseService and NodeRegistry play a script; the agents' tests
 * run the same wait against the real server, with the waiting agent's lease revoked.
 */
describe('registerUnderLease', () => {
  const serve = useScriptedServers();
  const node = { id: 'c-1', kind: NodeDatabaseKind.COMPUTE, address: 'c:1' };

  /** A lease service granting leases 1, 2, …; `ended` are those it no longer has. */
  async function leaseService() {
    const granted: bigint[] = [];
    const revoked: bigint[] = [];
    const ended = new Set<bigint>();
    const client = await serve(
      LeaseService,
      {
        async grant({ ttlSeconds }) {
          granted.push(BigInt(granted.length + 1));
          return { lease: { id: BigInt(granted.length), ttlSeconds } };
        },
        async *keepAlive(requests: AsyncIterable<KeepAliveRequest>) {
          for await (const { leaseId } of requests) {
            if (ended.has(leaseId)) throw notFound(`lease ${leaseId} has expired or been revoked`);
            yield { leaseId, ttlSeconds: 60n };
          }
        },
        async revoke({ leaseId }) {
          revoked.push(leaseId);
          ended.add(leaseId);
          return {};
        },
        async timeToLive({ leaseId }) {
          if (ended.has(leaseId)) throw notFound(`lease ${leaseId} not found`);
          return { remainingMs: 60_000n, locks: [], nodes: [] };
        },
        async list() {
          return { leases: [] };
        },
      } satisfies ServiceHandlers<typeof LeaseService>,
      (target) => createLeaseClient(target),
    );
    return { client, granted, revoked, ended };
  }

  /**
   * A registry that refuses each registration with `refusal(leaseId)` until it returns undefined,
   * and says the node is online under `holder` when there is one.
   */
  async function registry(refusal: (leaseId: bigint) => Error | undefined, holder?: bigint) {
    const registeredUnder: bigint[] = [];
    const client = await serve(
      NodeRegistry,
      {
        async register({ leaseId }) {
          const error = refusal(leaseId);
          if (error !== undefined) throw error;
          registeredUnder.push(leaseId);
          return { node: { ...node, leaseId, online: true } };
        },
        async get() {
          return holder === undefined ? {} : { node: { ...node, leaseId: holder, online: true } };
        },
      } satisfies ServiceHandlers<typeof NodeRegistry>,
      (target) => createNodeRegistryClient(target),
    );
    return { client, registeredUnder };
  }

  it('replaces a lease that ended before the node was registered under it, and registers under the new one', async () => {
    const leases = await leaseService();
    // Lease 1 is gone by the time its registration arrives: revoked, or expired while the agent waited.
    leases.ended.add(1n);
    const nodes = await registry((leaseId) => (leases.ended.has(leaseId) ? notFound(`lease ${leaseId} not found`) : undefined));
    const replaced: bigint[] = [];

    const { lease, node: registered } = await registerUnderLease({ leases: leases.client, registry: nodes.client }, node, 60, {
      retryMs: 10,
      onLeaseReplaced: ({ leaseId, error }) => {
        replaced.push(leaseId);
        // Whichever saw it first: the register's refusal, or the keeper's first renewal.
        expect(error.message).toMatch(/lease 1 (not found|has expired or been revoked)/);
      },
    });
    try {
      expect(lease.leaseId).toBe(2n);
      expect(registered).toMatchObject({ id: 'c-1', leaseId: 2n, online: true });
      expect(replaced).toEqual([1n]);
      expect(nodes.registeredUnder).toEqual([2n]);
    } finally {
      await lease.stop({ revoke: false });
    }
  });

  it('replaces a lease its keeper finds gone while the node is held by another, and waits on under the new one', async () => {
    const leases = await leaseService();
    let holder: bigint | undefined = 7n;
    const nodes = await registry(() => (holder === undefined ? undefined : failedPrecondition(`node c-1 is online under lease ${holder}`)), 7n);
    const waits: [bigint, bigint][] = [];
    const registering = registerUnderLease({ leases: leases.client, registry: nodes.client }, node, 1, {
      retryMs: 20,
      onWaiting: ({ heldBy, leaseId }) => {
        waits.push([heldBy, leaseId]);
        // Lease 1 ends while it waits: its next renewal (a third of a second on) finds it gone.
        if (leaseId === 1n) leases.ended.add(1n);
        else holder = undefined;
      },
      onLeaseReplaced: ({ leaseId, error }) => {
        expect(leaseId).toBe(1n);
        expect(error.message).toContain('lease 1 has expired or been revoked');
      },
    });
    const { lease } = await registering;
    try {
      expect(lease.leaseId).toBe(2n);
      expect(waits).toEqual([[7n, 1n], [7n, 2n]]);
      expect(nodes.registeredUnder).toEqual([2n]);
    } finally {
      await lease.stop({ revoke: false });
    }
  });

  it('tells onLost of a loss after the registration, with the lease lost', async () => {
    const leases = await leaseService();
    const nodes = await registry(() => undefined);
    let lost: { error: Error; leaseId: bigint } | undefined;
    const { lease } = await registerUnderLease({ leases: leases.client, registry: nodes.client }, node, 1, {
      onLost: (error, which) => (lost = { error, leaseId: which.leaseId }),
    });
    leases.ended.add(lease.leaseId);
    await new Promise((resolve) => lease.signal.addEventListener('abort', resolve, { once: true }));
    expect(lost).toMatchObject({ leaseId: 1n, error: { code: 'NOT_FOUND' } });
    await lease.stop({ revoke: false });
  });

  it('throws a refusal that a new lease cannot mend, once, and revokes the lease it took', async () => {
    const leases = await leaseService();
    const nodes = await registry(() => failedPrecondition('node c-1 was registered as a requester'));

    await expect(registerUnderLease({ leases: leases.client, registry: nodes.client }, node, 60, { retryMs: 10 })).rejects.toThrow('registered as a requester');
    expect(leases.granted).toEqual([1n]);
    expect(leases.revoked).toEqual([1n]);
  });

  it('revokes the lease it waited under when its signal aborts', async () => {
    const leases = await leaseService();
    const stop = new AbortController();
    const nodes = await registry(() => {
      setTimeout(() => stop.abort(new Error('agent stopping')), 50);
      return failedPrecondition('node c-1 is online under lease 7');
    }, 7n);

    await expect(registerUnderLease({ leases: leases.client, registry: nodes.client }, node, 60, { retryMs: 1000, signal: stop.signal })).rejects.toThrow(
      'agent stopping',
    );
    expect(leases.revoked).toEqual([1n]);
  });
});
