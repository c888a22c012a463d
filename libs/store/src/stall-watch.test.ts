import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StallWatch, type Stall } from './stall-watch.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

/** Runs nothing else for `ms`, as a long synchronous transaction does, without taking a core from the other tests. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Well above what a loaded test machine's scheduling delays, so that only the stalls made here count.
const TOLERANCE_MS = 250;
/** Waits past the watch's next tick (every 100 ms, or half the tolerance if that is less). */
const nextTick = () => sleep(150);

/** A watch whose stalls are given back (or not, by `giveBack`) into `stalls`. */
function watchInto(stalls: Stall[], giveBack = () => true): StallWatch {
  return new StallWatch((stall) => (stalls.push(stall), giveBack()), { toleranceMs: TOLERANCE_MS });
}

describe('StallWatch', () => {
  it('holds its clock where a stall began to count until the stall is given back, then runs on', async () => {
    const stalls: Stall[] = [];
    const watch = watchInto(stalls);
    watch.start();
    try {
      await nextTick();
      stalls.length = 0;
      const before = Date.now();
      blockEventLoop(1_000);
      const held = watch.now();
      expect(held).toBeLessThanOrEqual(before + TOLERANCE_MS);
      expect(Date.now() - held).toBeGreaterThanOrEqual(1_000 - TOLERANCE_MS - 100);
      expect(stalls).toEqual([]);

      await nextTick();
      expect(stalls[0]?.sinceMs).toBe(held);
      // The stall counts from past the tolerance: what is left of the second, give or take a tick.
      expect(stalls[0]!.lengthMs).toBeGreaterThanOrEqual(1_000 - TOLERANCE_MS - 100);
      expect(watch.now()).toBeGreaterThanOrEqual(held + stalls[0]!.lengthMs);
    } finally {
      watch.stop();
    }
  });

  it('keeps its clock held while the stall cannot be given back, and offers the whole of it at every tick', async () => {
    const stalls: Stall[] = [];
    let giveBack = false;
    const watch = watchInto(stalls, () => giveBack);
    watch.start();
    try {
      await nextTick();
      stalls.length = 0;
      blockEventLoop(600);
      const held = watch.now();
      await nextTick();
      await nextTick();
      expect(stalls.length).toBeGreaterThanOrEqual(2);
      expect(new Set(stalls.map((stall) => stall.sinceMs))).toEqual(new Set([held]));
      expect(stalls.at(-1)!.lengthMs).toBeGreaterThan(stalls[0]!.lengthMs);
      expect(watch.now()).toBe(held);

      giveBack = true;
      await nextTick();
      expect(watch.now()).toBeGreaterThan(held);
    } finally {
      watch.stop();
    }
  });

  it('reports nothing while the loop keeps running within the tolerance', async () => {
    const stalls: Stall[] = [];
    const watch = new StallWatch((stall) => (stalls.push(stall), true), { toleranceMs: 1_000 });
    watch.start();
    try {
      for (let i = 0; i < 5; i++) {
        blockEventLoop(300);
        await sleep(10);
      }
      await nextTick();
      expect(stalls).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it('is the wall clock before it starts and once it stops', () => {
    const stalls: Stall[] = [];
    const watch = watchInto(stalls);
    blockEventLoop(400);
    expect(Math.abs(watch.now() - Date.now())).toBeLessThanOrEqual(1);
    watch.start();
    watch.stop();
    blockEventLoop(400);
    expect(Math.abs(watch.now() - Date.now())).toBeLessThanOrEqual(1);
    expect(stalls).toEqual([]);
  });
});

describe('leases over a stall of the server', () => {
  const temp = useTempStorage();

  it('keep the time the process ran nothing: a keep-alive read after the stall renews, and only the leases alive at its start get the time', async () => {
    const credited: { stall: Stall; leases: number }[] = [];
    const storage = temp.open({ stallCredit: { toleranceMs: TOLERANCE_MS, onCredited: (stall, leases) => credited.push({ stall, leases }) } });
    const { leaseStore, lockStore } = storage;
    const renewed = await leaseStore.grant(3);
    const idle = await leaseStore.grant(3);
    const expired = await leaseStore.grant(3);
    await lockStore.acquire({ name: '/locks/held', leaseId: idle.id });
    // Expired before the stall began, and not swept until after it: the stall must not bring it back.
    storage.coordination.db.prepare('UPDATE leases SET expire_time = ? WHERE id = ?').run(Date.now() - 1, expired.id);
    await nextTick();

    blockEventLoop(3_500);
    // Read in the same turn as the stall's end, before any timer: judged as of the stall's start.
    const keptAlive = leaseStore.keepAlive(renewed.id);
    await rejection(leaseStore.keepAlive(expired.id), 'NOT_FOUND');
    await expect(keptAlive).resolves.toMatchObject({ id: renewed.id });

    await nextTick();
    const credit = credited.find(({ stall }) => stall.lengthMs >= 3_500 - TOLERANCE_MS - 100);
    expect(credit?.leases).toBe(2);
    expect(await leaseStore.expireDue()).toEqual([expired.id]);
    const idleLeft = await leaseStore.timeToLive(idle.id);
    // It had about 2.6 s left when the stall began to count, and has it still.
    expect(idleLeft.remainingMs).toBeGreaterThan(2_000);
    expect(idleLeft.locks).toEqual(['/locks/held']);
    expect((await leaseStore.timeToLive(renewed.id)).remainingMs).toBeGreaterThan(2_000);
  });

  it('stay judged as of the stall while its credit cannot be committed, which is told once, and get it once it can', async () => {
    const told: { lengthMs: number; leases: number; failure?: unknown }[] = [];
    const storage = temp.open({ stallCredit: { toleranceMs: TOLERANCE_MS, onCredited: (stall, leases, failure) => told.push({ lengthMs: stall.lengthMs, leases, failure }) } });
    const lease = await storage.leaseStore.grant(2);
    storage.coordination.db.pragma('busy_timeout = 10');
    // Another process holds coordination.db's write lock: the credit's transaction cannot begin.
    const other = new Database(path.join(temp.dir(), 'coordination.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      await nextTick();
      told.length = 0;
      blockEventLoop(2_500);
      await nextTick();
      await nextTick();
      expect(told).toEqual([expect.objectContaining({ leases: 0, failure: expect.objectContaining({ code: 'SQLITE_BUSY' }) })]);
      // Still judged as of the stall: the lease, whose 2 s ran out in it, is alive.
      expect(await storage.leaseStore.expireDue()).toEqual([]);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await nextTick();
    expect(told.at(-1)).toMatchObject({ leases: 1, failure: undefined });
    expect(told.at(-1)!.lengthMs).toBeGreaterThanOrEqual(2_500 - TOLERANCE_MS);
    expect((await storage.leaseStore.timeToLive(lease.id)).remainingMs).toBeGreaterThan(0);
  });

  it('end at their expire time when the stall credit is off, which is what the credit prevents', async () => {
    const { leaseStore } = temp.open();
    const lease = await leaseStore.grant(2);
    blockEventLoop(2_100);
    await rejection(leaseStore.keepAlive(lease.id), 'NOT_FOUND');
  });

  it('cannot be judged on a clock of the caller\'s own while stalls are measured on the real one', () => {
    expect(() => temp.open({ clock: () => 0, stallCredit: { toleranceMs: TOLERANCE_MS } })).toThrow(/cannot be combined/);
  });
});
