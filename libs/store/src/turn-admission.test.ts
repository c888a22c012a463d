import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TurnAdmission } from './turn-admission.js';

describe('TurnAdmission', () => {
  it('lets at most perTurn callers go on at a time, the next ones two turns later, in the order they came', async () => {
    const admission = new TurnAdmission(16);
    const order: number[] = [];
    const calls = Array.from({ length: 40 }, (_, caller) => admission.admit().then(() => order.push(caller)));
    const seen: number[] = [];
    await Promise.resolve();
    seen.push(order.length);
    for (let turn = 0; turn < 5; turn++) {
      await nextTurn();
      seen.push(order.length);
    }
    await Promise.all(calls);
    expect(seen).toEqual([16, 16, 32, 32, 40, 40]);
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('lets a caller that comes while others wait go on after them, never before', async () => {
    const admission = new TurnAdmission(2);
    const order: string[] = [];
    const first = ['a', 'b', 'c', 'd'].map((name) => admission.admit().then(() => order.push(name)));
    await nextTurn();
    const late = admission.admit().then(() => order.push('late'));
    await Promise.all([...first, late]);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'late']);
  });

  it('counts each turn afresh: a lone caller after a busy turn goes on at once', async () => {
    const admission = new TurnAdmission(4);
    await Promise.all(Array.from({ length: 8 }, () => admission.admit()));
    await nextTurn();
    await nextTurn();
    let through = false;
    const lone = admission.admit().then(() => {
      through = true;
    });
    await Promise.resolve();
    expect(through).toBe(true);
    await lone;
  });
});
