import { setTimeout as sleep } from 'node:timers/promises';
import type { LeaseService, TypedClient } from '@jobkeep/api';
import { JobkeepError } from '@jobkeep/errors';
import { backoff, isTransient } from './reconnection.js';

export type LeaseServiceClient = TypedClient<typeof LeaseService>;

/** A lease kept alive in the background until it is stopped or lost. */
export interface LeaseKeeper {
  readonly leaseId: bigint;
  /** Aborted when the lease is lost; its reason is the JobkeepError saying why. */
  readonly signal: AbortSignal;
  /** Stops renewing; with `revoke` (the default) also ends the lease, releasing its locks. */
  stop(options?: { revoke?: boolean }): Promise<void>;
}

export interface KeepLeaseOptions {
  /** How often to renew; a third of the TTL by default, so that one lost renewal is harmless. */
  renewEveryMs?: number;
  /** Told once when the lease is lost: revoked, expired, or not renewed before it would expire. */
  onLost?: (error: JobkeepError) => void;
}

/** Grants a lease of `ttlSeconds` and keeps it alive (see keepLeaseAlive). */
export async function grantLease(client: LeaseServiceClient, ttlSeconds: number, options: KeepLeaseOptions = {}): Promise<LeaseKeeper> {
  const { lease } = await client.grant({ ttlSeconds: BigInt(ttlSeconds) });
  return keepLeaseAlive(client, lease!.id, ttlSeconds, options);
}

/**
 * Keeps a lease alive over one KeepAlive stream, reopened with backoff after a dropped
 * connection or a server restart. The lease counts as lost when the server says it is gone
 * (NOT_FOUND), or when the time since the last renewal that the server confirmed reaches the TTL:
 * by then the server may have let it expire, and whoever relies on it must stop.
 */
export function keepLeaseAlive(
  client: LeaseServiceClient,
  leaseId: bigint,
  ttlSeconds: number,
  options: KeepLeaseOptions = {},
): LeaseKeeper {
  const renewEveryMs = options.renewEveryMs ?? Math.max(100, (ttlSeconds * 1000) / 3);
  const lost = new AbortController();
  const stopping = new AbortController();
  // Aborted by either: what the keep-alive calls listen to, made once rather than per call.
  const ended = new AbortController();
  for (const signal of [lost.signal, stopping.signal]) signal.addEventListener('abort', () => ended.abort(), { once: true });
  // Measured from when a renewal was sent, not answered: the server's clock started then at the latest.
  let expiresAt = Date.now() + ttlSeconds * 1000;
  // When each renewal still unanswered was sent: the server answers them in order, so a response
  // belongs to the oldest, and a slow round trip cannot make the lease look fresher than it is.
  let unanswered: number[] = [];

  const lose = (error: JobkeepError) => {
    if (lost.signal.aborted || stopping.signal.aborted) return;
    lost.abort(error);
    options.onLost?.(error);
  };

  async function* renewals(signal: AbortSignal) {
    while (!signal.aborted) {
      unanswered.push(Date.now());
      yield { leaseId };
      try {
        await sleep(renewEveryMs, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  const running = (async () => {
    let failures = 0;
    while (!ended.signal.aborted) {
      // A new stream: renewals sent on the old one will never be answered.
      unanswered = [];
      try {
        for await (const response of client.keepAlive(renewals(ended.signal), { signal: ended.signal })) {
          failures = 0;
          const sent = unanswered.shift() ?? Date.now();
          expiresAt = sent + Number(response.ttlSeconds) * 1000;
        }
        throw new JobkeepError('UNAVAILABLE', 'the keep-alive stream ended');
      } catch (error) {
        if (ended.signal.aborted) return;
        if (!isTransient(error)) return lose(error instanceof JobkeepError ? error : new JobkeepError('UNKNOWN', String(error)));
        const remaining = expiresAt - Date.now();
        if (remaining <= 0) return lose(new JobkeepError('DEADLINE_EXCEEDED', `lease ${leaseId} could not be renewed before it expired`));
        failures++;
        await sleep(Math.min(backoff(failures, 100, 2000), remaining)).catch(() => undefined);
      }
    }
  })();

  // Between renewals nothing else notices that the TTL ran out while the server was unreachable.
  const watchdog = setInterval(() => {
    if (Date.now() >= expiresAt) lose(new JobkeepError('DEADLINE_EXCEEDED', `lease ${leaseId} was not renewed before it expired`));
  }, Math.min(renewEveryMs, 1000)).unref();

  return {
    leaseId,
    signal: lost.signal,
    async stop({ revoke = true } = {}) {
      stopping.abort();
      clearInterval(watchdog);
      await running;
      // Even a lease this keeper counts as lost: a server restart may have revived it, and left
      // alone it would hold its locks until its TTL ran out again.
      if (revoke) {
        await client.revoke({ leaseId }).catch((error: unknown) => {
          if (!(error instanceof JobkeepError && error.code === 'NOT_FOUND')) throw error;
        });
      }
    },
  };
}
