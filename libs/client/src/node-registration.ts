import { setTimeout as sleep } from 'node:timers/promises';
import type { Node } from '@jobkeep/api';
import { isJobkeepError } from '@jobkeep/errors';
import type { NodeRegistryClient } from './service-clients.js';

export interface RegisterNodeOptions {
  /** Stops the wait (and a call under way): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told when the node is found online under another lease (once per such lease), before the next try. */
  onWaiting?: (holder: { leaseId: bigint; error: Error }) => void;
  /** How long to wait between tries; 500 ms by default. */
  retryMs?: number;
}

/**
 * Registers a node under `request.leaseId`, waiting while the server refuses because the node is
 * online under another live lease: that of another agent running with the same node id, or of
 * this node's agent before a crash, whose lease has yet to expire. The wait ends when that lease
 * does (its agent stopped, or it was revoked); the caller's own lease must be kept alive
 * meanwhile. Any other refusal is thrown, once a second try at once has met it too.
 */
export async function registerNode(
  registry: NodeRegistryClient,
  request: Parameters<NodeRegistryClient['register']>[0],
  options: RegisterNodeOptions = {},
): Promise<Node> {
  const nodeId = request.node?.id ?? '';
  let waitingFor: bigint | undefined;
  let triedAgainAtOnce = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return (await registry.register(request, { signal: options.signal })).node!;
    } catch (error) {
      // A call cancelled by the signal fails with CANCELLED; the caller hears the signal's reason.
      options.signal?.throwIfAborted();
      if (!isJobkeepError(error, 'FAILED_PRECONDITION')) throw error;
      const holder = await onlineUnderAnotherLease(registry, nodeId, request.leaseId ?? 0n, options.signal);
      options.signal?.throwIfAborted();
      if (holder === undefined) {
        // The lease that held the node may have ended between the refusal and this look (the
        // agent before a crash, whose lease was about to expire): one more try tells. A refusal
        // that waiting cannot mend (this caller's own lease has expired) comes back the same.
        if (triedAgainAtOnce) throw error;
        triedAgainAtOnce = true;
        continue;
      }
      triedAgainAtOnce = false;
      if (holder !== waitingFor) options.onWaiting?.({ leaseId: holder, error });
      waitingFor = holder;
      await sleep(options.retryMs ?? 500, undefined, { signal: options.signal }).catch((sleepError: unknown) => {
        options.signal?.throwIfAborted(); // its reason, rather than the timer's AbortError
        throw sleepError;
      });
    }
  }
}

/** The lease the node is online under, when that is not `leaseId`. */
async function onlineUnderAnotherLease(registry: NodeRegistryClient, nodeId: string, leaseId: bigint, signal: AbortSignal | undefined) {
  const { node } = await registry.get({ nodeId }, { signal }).catch(() => ({ node: undefined }));
  return node !== undefined && node.online && !node.archived && node.leaseId !== leaseId ? node.leaseId : undefined;
}
