import type { CoordinationClients } from './coordination-clients.js';

/** A lease and a lock it holds, with the guard that fenced writes carry. */
export interface HeldLockForTest {
  leaseId: bigint;
  fencingToken: bigint;
  guard: { lockName: string; fencingToken: bigint };
}

/**
 * Grants a lease of `ttlSeconds` and takes `name` with it at once. For tests of fenced writes:
 * let the lease expire (no keep-alive) or revoke it, and the guard goes stale.
 */
export async function holdLock(
  clients: Pick<CoordinationClients, 'leases' | 'locks'>,
  name: string,
  ttlSeconds = 60,
  lockDelayMs = 0,
): Promise<HeldLockForTest> {
  const { lease } = await clients.leases.grant({ ttlSeconds: BigInt(ttlSeconds) });
  const { fencingToken } = await clients.locks.acquire({ name, leaseId: lease!.id, lockDelayMs });
  return { leaseId: lease!.id, fencingToken, guard: { lockName: name, fencingToken } };
}

/** An async iterable of requests that a test feeds one at a time, for bidi streams such as KeepAlive. */
export function requestQueue<T>(): { requests: AsyncIterable<T>; send: (request: T) => void; end: () => void } {
  const pending: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  return {
    send: (request) => (pending.push(request), notify()),
    end: () => ((ended = true), notify()),
    requests: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (pending.length > 0) yield pending.shift()!;
          if (ended) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
    },
  };
}

/** A fixed list of requests as the async iterable a streaming call takes. */
export async function* requestsOf<T>(...requests: T[]): AsyncGenerator<T> {
  yield* requests;
}
