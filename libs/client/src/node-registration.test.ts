import { NodeDatabaseKind, NodeRegistry, type ServiceHandlers } from '@jobkeep/api';
import { failedPrecondition, notFound } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { createNodeRegistryClient, registerNode, type NodeRegistryClient } from './index.js';
import { useScriptedServers } from './test-support/scripted-servers.js';

/*
 * The wait's own behaviour (when it waits, when it gives up, how it stops) is checked against a
 * real gRPC server whose NodeRegistry handlers play a script; the refusal itself, from the real
 * store, and two agents under one node id are exercised in the store's and the compute agent's
 * tests.
 */
describe('registerNode', () => {
  const serveScripted = useScriptedServers();
  const serve = (handlers: ServiceHandlers<typeof NodeRegistry>): Promise<NodeRegistryClient> =>
    serveScripted(NodeRegistry, handlers, (target) => createNodeRegistryClient(target));

  const request = { node: { id: 'c-1', kind: NodeDatabaseKind.COMPUTE, address: 'c:1' }, leaseId: 9n };
  const refused = () => failedPrecondition('node c-1 is online under lease 7 until …');

  /** A registry whose node c-1 is online under lease 7 for the first `refusals` registrations. */
  function heldBy7(refusals: number) {
    let registers = 0;
    return {
      get registers() {
        return registers;
      },
      handlers: {
        async register() {
          registers++;
          if (registers <= refusals) throw refused();
          return { node: { id: 'c-1', leaseId: 9n, online: true } };
        },
        async get() {
          return { node: registers <= refusals ? { id: 'c-1', leaseId: 7n, online: true } : { id: 'c-1', leaseId: 9n, online: true } };
        },
      } satisfies ServiceHandlers<typeof NodeRegistry>,
    };
  }

  it('waits while the node is online under another lease, telling of that lease once, then registers', async () => {
    const registry = heldBy7(3);
    const client = await serve(registry.handlers);
    const told: bigint[] = [];
    const node = await registerNode(client, request, { retryMs: 10, onWaiting: ({ leaseId, error }) => {
      told.push(leaseId);
      expect(error.message).toContain('online under lease 7');
    } });
    expect(node).toMatchObject({ id: 'c-1', leaseId: 9n, online: true });
    expect(registry.registers).toBe(4);
    expect(told).toEqual([7n]);
  });

  it('registers at once when the lease that held the node ended between the refusal and the look', async () => {
    let registers = 0;
    const client = await serve({
      async register() {
        if (++registers === 1) throw refused();
        return { node: { id: 'c-1', leaseId: 9n, online: true } };
      },
      async get() {
        return { node: { id: 'c-1', leaseId: 7n, online: false } }; // lease 7 expired meanwhile
      },
    });
    const told: bigint[] = [];
    // A minute between tries: a wait before the second would time the test out.
    expect(await registerNode(client, request, { retryMs: 60_000, onWaiting: ({ leaseId }) => told.push(leaseId) })).toMatchObject({ leaseId: 9n });
    expect(registers).toBe(2);
    expect(told).toEqual([]);
  });

  it('gives up, after one more try at once, on a refusal that waiting cannot mend', async () => {
    // Its own lease expired: FAILED_PRECONDITION too, but the node is not online under another lease.
    let registers = 0;
    const expired = await serve({
      async register() {
        registers++;
        throw failedPrecondition('lease 9 expired at …; grant a new one');
      },
      async get() {
        return { node: { id: 'c-1', leaseId: 9n, online: false } };
      },
    });
    await expect(registerNode(expired, request, { retryMs: 60_000 })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringContaining('lease 9 expired') });
    expect(registers).toBe(2);
    const unknown = await serve({
      async register() {
        throw notFound('lease 9 not found');
      },
    });
    await expect(registerNode(unknown, request, { retryMs: 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('stops waiting when its signal aborts', async () => {
    const client = await serve(heldBy7(Number.MAX_SAFE_INTEGER).handlers);
    // Counted as the client sends them: a call the abort cancels may still reach the server later.
    let sent = 0;
    const counting: NodeRegistryClient = { ...client, register: (...args) => (sent++, client.register(...args)) };
    const stop = new AbortController();
    const waiting = registerNode(counting, request, { retryMs: 10, signal: stop.signal, onWaiting: () => setTimeout(() => stop.abort(new Error('agent stopping')), 30) });
    await expect(waiting).rejects.toThrow('agent stopping');
    const tries = sent;
    expect(tries).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toBe(tries);
  });
});
