import { setTimeout as sleep } from 'node:timers/promises';
import type { Node } from '@jobkeep/api';
import { JobkeepError, isJobkeepError } from '@jobkeep/errors';
import { grantLease, type LeaseKeeper, type LeaseServiceClient } from './lease-keeper.js';
import { registerNode, type RegisterNodeOptions } from './node-registration.js';
import type { NodeRegistryClient } from './service-clients.js';

export interface LeasedRegistrationOptions extends Pick<RegisterNodeOptions, 'signal' | 'retryMs'> {
  /**
   * Told when the node is found online under another lease (`heldBy`) while this one (`leaseId`)
   * waits: once per holder for each lease the wait goes on under.
   */
  onWaiting?: (wait: { heldBy: bigint; leaseId: bigint; error: Error }) => void;
  /**
   * Told when the lease the node was registered under is lost (see KeepLeaseOptions.onLost), with
   * that lease: its caller may not have it yet, if it was lost as the registration went through.
   */
  onLost?: (error: JobkeepError, lease: LeaseKeeper) => void;
  /** Told when the lease was lost before the node was registered under it, and a new one takes its place. */
  onLeaseReplaced?: (lost: { leaseId: bigint; error: Error }) => void;
}

/**
 * Grants a lease of `ttlSeconds`, keeps it alive and registers `node` under it, waiting while the
 * node is online under another lease (see registerNode). A wait can outlast the lease: it may be
 * revoked, or expire when its keep-alives are held back past its TTL (a paused or starved agent).
 * Then a new lease takes its place and the wait goes on, instead of the agent giving up on a node
 * it is entitled to. Resolves with the lease the node is registered under. On any failure, or when
 * the signal aborts, the lease it was waiting under is revoked.
 */
export async function registerUnderLease(
  clients: { leases: LeaseServiceClient; registry: NodeRegistryClient },
  node: NonNullable<Parameters<NodeRegistryClient['register']>[0]['node']>,
  ttlSeconds: number,
  options: LeasedRegistrationOptions = {},
): Promise<{ lease: LeaseKeeper; node: Node }> {
  for (;;) {
    options.signal?.throwIfAborted();
    let registered = false;
    const lease: LeaseKeeper = await grantLease(clients.leases, ttlSeconds, { onLost: (error) => registered && options.onLost?.(error, lease) });
    try {
      const signal = options.signal === undefined ? lease.signal : AbortSignal.any([options.signal, lease.signal]);
      const registeredNode = await registerNode(clients.registry, { node, leaseId: lease.leaseId }, {
        retryMs: options.retryMs,
        signal,
        onWaiting: ({ leaseId: heldBy, error }) => options.onWaiting?.({ heldBy, leaseId: lease.leaseId, error }),
      });
      registered = true;
      // Lost between the server's answer and this line: onLost was not told, so tell it now.
      if (lease.signal.aborted) options.onLost?.(lease.signal.reason as JobkeepError, lease);
      return { lease, node: registeredNode };
    } catch (error) {
      // Asked before the revoke below, which would end the lease either way.
      const lost = options.signal?.aborted !== true && (await wasLost(clients.leases, lease));
      await lease.stop({ revoke: true }).catch(() => undefined);
      options.signal?.throwIfAborted();
      if (!lost) throw error;
      options.onLeaseReplaced?.({ leaseId: lease.leaseId, error: error instanceof Error ? error : new Error(String(error)) });
      // A pause, so that a server which keeps ending new leases at once is not asked in a loop.
      await sleep(options.retryMs ?? 500, undefined, { signal: options.signal }).catch(() => options.signal?.throwIfAborted());
    }
  }
}

/**
 * Whether the registration failed because its lease had ended: the keeper saw it go, or the
 * server has it no more (a register that got there first was refused NOT_FOUND, or
 * FAILED_PRECONDITION while the expired lease awaited its reaping; TimeToLive answers NOT_FOUND
 * for both). A server that cannot be asked leaves the registration's own error standing.
 */
async function wasLost(leases: LeaseServiceClient, lease: LeaseKeeper): Promise<boolean> {
  if (lease.signal.aborted) return true;
  return leases.timeToLive({ leaseId: lease.leaseId }).then(
    () => false,
    (error: unknown) => isJobkeepError(error, 'NOT_FOUND'),
  );
}
