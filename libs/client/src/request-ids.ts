import { randomFillSync } from 'node:crypto';
import { v7 as timeOrderedUuid } from 'uuid';

/** Ids drawn per refill of the pool: 4 KiB of random bytes. */
const IDS_PER_REFILL = 256;
const pool = new Uint8Array(16 * IDS_PER_REFILL);
let next = pool.length;

/**
 * A new request id: a UUID version 7, time-ordered because the server keys a table by them and
 * ordered keys append to its index where random ones dirtied a page of it per create
 * (tools/bench/RESULTS.md, "time-ordered ids"). Its random bits come from a pool refilled 4 KiB
 * at a time: asking the system for 16 bytes per id cost a create about 5% of the client's CPU
 * at 64 calls in flight (RESULTS.md, "one batch a turn"). Ids of one millisecond are in random
 * order among themselves, which still puts them all at the end of the index.
 */
export function newRequestId(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const random = pool.subarray(next, next + 16);
  next += 16;
  return timeOrderedUuid({ random });
}
