import { EtcdLockFailedError, type Etcd3 } from 'etcd3';
import type { EtcdProcess } from './etcd-process.js';
import { casesOf, type LoadCase } from './load-case.js';

/**
 * How issue 9 measured "etcd's lock": the `etcd3` npm client's Lock, as a Node agent would use
 * it. Each acquire grants a new lease and puts the lock's key only if it does not exist (one
 * transaction); a release revokes the lease. It never waits: a taken lock fails at once, and the
 * caller tries again, as the figure (about 23 cycles/s with 64 clients) was measured.
 * These rows stand beside etcd's own Lock service (etcd-cases.ts), which waits in line inside
 * etcd and is the stronger of the two.
 */
export function etcdNpmLockCases(etcd: EtcdProcess, client: Etcd3): LoadCase[] {
  const cycle = async (name: string) => {
    for (;;) {
      const lock = client.lock(name);
      try {
        await lock.acquire();
      } catch (error) {
        if (error instanceof EtcdLockFailedError) continue;
        throw error;
      }
      await lock.release();
      return;
    }
  };
  return casesOf('etcd', etcd.child.pid!, [
    {
      operation: 'npm lock distinct',
      description: 'etcd3 npm client: acquire (lease grant + put-if-absent) + release (lease revoke), a new lock name each time',
      prepare: async (c) => ({ operation: (i) => cycle(`/bench/npm-distinct-${c}/${i}`) }),
    },
    {
      operation: 'npm lock contended',
      description: 'etcd3 npm client: the same on one lock name for all callers, each trying again at once while it is taken',
      prepare: async (c) => ({ operation: () => cycle(`/bench/npm-contended-${c}`) }),
    },
  ]);
}
