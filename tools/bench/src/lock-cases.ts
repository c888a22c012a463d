import type { CaseSpec } from './load-case.js';

/** What the lock cases call, in jobkeep's terms or etcd's. */
export interface LockCalls {
  /** The calls' own names, for the table: ["Acquire", "Release"] or ["Lock", "Unlock"]. */
  verbs: [take: string, give: string];
  grantLeases(count: number): Promise<bigint[]>;
  /** Gives the leases back after a run, where the server keeps them past it. */
  revokeLeases?(leaseIds: bigint[]): Promise<void>;
  /** Takes the lock `name` with the lease (waiting in line if `wait`) and gives it back. */
  takeAndGive(name: string, leaseId: bigint, wait: boolean): Promise<void>;
}

/**
 * Lock+unlock on a new name each call (uncontended), and every caller on one name (contended:
 * each waits in line behind the others). Each caller holds with a lease of its own, as separate
 * agents would; the two systems run the same cases through `calls`.
 */
export function lockCases(calls: LockCalls): CaseSpec[] {
  const [take, give] = calls.verbs;
  const withLeases = (nameOf: (concurrency: number, index: number) => string, wait: boolean) => async (concurrency: number) => {
    const owned = await calls.grantLeases(concurrency);
    return {
      operation: (index: number, caller: number) => calls.takeAndGive(nameOf(concurrency, index), owned[caller]!, wait),
      finish: async () => calls.revokeLeases?.(owned),
    };
  };
  return [
    {
      operation: 'lock distinct',
      description: `${take}+${give}, a new lock name each time, a lease per caller`,
      prepare: withLeases((concurrency, index) => `/bench/distinct-${concurrency}/${index}`, false),
    },
    {
      operation: 'lock contended',
      description: `${take} (waiting in line)+${give}, all callers on one lock name, a lease per caller`,
      prepare: withLeases((concurrency) => `/bench/contended-${concurrency}`, true),
    },
  ];
}
