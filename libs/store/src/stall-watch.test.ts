import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StallWatch, type Stall } from './stall-watch.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

/** Runs nothing else for `ms`, as a long synchronous transaction does. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

/** Waits past the watch's next tick. */
const nextTick = () => sleep(60);

// A tolerance well above what a loaded test machine's scheduling delays, so that only the stalls made here count.
const WATCH = { tickMs: 20, toleranceMs: 250 };

describe('StallWatch', () => {
  it('holds its clock where a stall began to count until it reports the stall, then runs on', async () => {
    const stalls: Stall[] = [];
    const watch = new StallWatch((stall) => stalls.push(stall), WATCH);
    watch.start();
    try {
      await nextTick();
      stalls.length = 0;
      const before = Date.now();
      blockEventLoop(1_000);
      const held = watch.now();
      expect(held).toBeLessThanOrEqual(before + WATCH.tickMs + WATCH.toleranceMs);
      expect(Date.now() - held).toBeGreaterThanOrEqual(1_000 - WATCH.tickMs - WATCH.toleranceMs);
      expect(stalls).toEqual([]);

      await nextTick();
      expect(stalls[0]?.sinceMs).toBe(held);
      // The stall counts from past the tolerance: what is left of the second, give or take the tick.
      expect(stalls[0]!.lengthMs).toBeGreaterThanOrEqual(1_000 - WATCH.tickMs - WATCH.toleranceMs);
      expect(Math.abs(watch.now() - Date.now())).toBeLessThanOrEqual(1);
    } finally {
      watch.stop();
    }
  });

  it('reports nothing while the loop keeps its ticks within the tolerance', async () => {
    const stalls: Stall[] = [];
    const watch = new StallWatch((stall) => stalls.push(stall), { tickMs: 20, toleranceMs: 1_000 });
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
    const watch = new StallWatch((stall) => stalls.push(stall), WATCH);
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

  it('keep the time the process ran nothing: a keep-alive read after the stall renews, and no lease alive at its start expires for it', async () => {
    const credited: { stall: Stall; leases: number }[] = [];
    const storage = temp.open({ stallCredit: { ...WATCH, onCredited: (stall, leases) => credited.push({ stall, leases }) } });
    const { leaseStore, lockStore } = storage;
    const renewed = await leaseStore.grant(2);
    const idle = await leaseStore.grant(2);
    const expired = await leaseStore.grant(2);
    await lockStore.acquire({ name: '/locks/held', leaseId: idle.id });
    // Expired before the stall began, not yet swept: the stall must not bring it back.
    storage.coordination.db.prepare('UPDATE leases SET expire_time = ? WHERE id = ?').run(Date.now() - 1, expired.id);
    await nextTick();

    blockEventLoop(2_500);
    // Read in the same turn as the stall's end, before any timer: judged as of the stall's start.
    const keptAlive = leaseStore.keepAlive(renewed.id);
    const expiredKeepAlive = leaseStore.keepAlive(expired.id);
    expect(await leaseStore.expireDue()).toEqual([expired.id]);
    await expect(keptAlive).resolves.toMatchObject({ id: renewed.id });
    await rejection(expiredKeepAlive, 'NOT_FOUND');

    await nextTick();
    const credit = credited.find(({ stall }) => stall.lengthMs >= 2_500 - WATCH.tickMs - WATCH.toleranceMs);
    expect(credit?.leases).toBe(2);
    expect(await leaseStore.expireDue()).toEqual([]);
    const idleLeft = await leaseStore.timeToLive(idle.id);
    // It had about 1.7 s left when the stall began to count, and has it still.
    expect(idleLeft.remainingMs).toBeGreaterThan(1_000);
    expect(idleLeft.locks).toEqual(['/locks/held']);
    expect((await leaseStore.timeToLive(renewed.id)).remainingMs).toBeGreaterThan(1_000);
  });

  it('end at their expire time when the stall credit is off, which is what the credit prevents', async () => {
    const { leaseStore } = temp.open();
    const lease = await leaseStore.grant(2);
    blockEventLoop(2_200);
    await rejection(leaseStore.keepAlive(lease.id), 'NOT_FOUND');
  });

  it('cannot be judged on a clock of the caller\'s own while stalls are measured on the real one', () => {
    expect(() => temp.open({ clock: () => 0, stallCredit: WATCH })).toThrow(/cannot be combined/);
  });
});
