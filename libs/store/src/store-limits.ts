/**
 * The limits a deployment sets on what clients may store or queue (the server's
 * --max-spec-bytes, --max-blob-bytes and --max-lock-waiters). The store checks them for every
 * caller, the offline admin tool included; the server checks the sizes again, with the same
 * numbers, before a request reaches the store.
 */
export interface StoreLimits {
  /** A job's spec, or an execution's snapshot of it, once encoded as JSON, in bytes. */
  maxSpecBytes: number;
  /** A checkpoint's data, in bytes. */
  maxBlobBytes: number;
  /** Acquire calls waiting in one lock's line; one more is RESOURCE_EXHAUSTED. */
  maxLockWaiters: number;
}

export const DEFAULT_STORE_LIMITS: Readonly<StoreLimits> = {
  maxSpecBytes: 1024 * 1024,
  maxBlobBytes: 1024 * 1024,
  maxLockWaiters: 1024,
};

/** The given limits over the defaults; each must be a positive integer. */
export function resolveStoreLimits(limits: Partial<StoreLimits> = {}): StoreLimits {
  const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
  const resolved: StoreLimits = { ...DEFAULT_STORE_LIMITS, ...given };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`the store limit ${name} must be a positive integer, not ${value}`);
  }
  return resolved;
}
