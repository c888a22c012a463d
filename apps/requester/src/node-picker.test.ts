import { describe, expect, it } from 'vitest';
import { NodePicker, matchesConstraints } from './node-picker.js';

describe('NodePicker', () => {
  const picker = (...nodes: { id: string; slots: number; labels?: Record<string, string> }[]) => {
    const result = new NodePicker();
    result.setOnlineNodes(nodes.map((node) => ({ labels: {}, ...node })));
    return result;
  };

  it('matches constraints against labels', () => {
    expect(matchesConstraints({ zone: 'a', gpu: 'yes' }, { zone: 'a' })).toBe(true);
    expect(matchesConstraints({ zone: 'a' }, { zone: 'b' })).toBe(false);
    expect(matchesConstraints({}, {})).toBe(true);
  });

  it('picks the node with the most free slots, counting this requester’s live executions and reservations', () => {
    const nodes = picker({ id: 'a', slots: 2 }, { id: 'b', slots: 3 });
    expect(nodes.pick({}, undefined, 0)?.id).toBe('b');
    nodes.track('x1', 'b', 'j1');
    nodes.reserve('b');
    expect(nodes.free('b')).toBe(1);
    expect(nodes.pick({}, undefined, 0)?.id).toBe('a');
    nodes.track('x2', 'a', 'j2');
    nodes.track('x3', 'a', 'j3');
    nodes.unreserve('b');
    expect(nodes.pick({}, undefined, 0)?.id).toBe('b');
    nodes.track('x4', 'b', 'j4');
    nodes.track('x5', 'b', 'j5');
    expect(nodes.pick({}, undefined, 0)).toBeUndefined();
    expect(nodes.anyFree(0)).toBe(false);
    expect(nodes.untrack('x2')).toBe(true);
    expect(nodes.untrack('x2')).toBe(false);
    expect(nodes.pick({}, undefined, 0)?.id).toBe('a');
  });

  it('only picks nodes whose labels satisfy the constraints, and never one with no slots', () => {
    const nodes = picker({ id: 'a', slots: 5, labels: { zone: 'a' } }, { id: 'b', slots: 1, labels: { zone: 'b' } }, { id: 'c', slots: 0, labels: { zone: 'c' } });
    expect(nodes.pick({ zone: 'b' }, undefined, 0)?.id).toBe('b');
    expect(nodes.pick({ zone: 'c' }, undefined, 0)).toBeUndefined();
    expect(nodes.pick({ zone: 'z' }, undefined, 0)).toBeUndefined();
  });

  it('avoids the node that failed the job last when another will do, and takes it when none will', () => {
    const nodes = picker({ id: 'a', slots: 5 }, { id: 'b', slots: 1 });
    expect(nodes.pick({}, 'a', 0)?.id).toBe('b');
    nodes.track('x1', 'b', 'j1');
    expect(nodes.pick({}, 'a', 0)?.id).toBe('a');
  });

  it('gives a node that rejected a bid no new bids until its cool-down ends', () => {
    const nodes = picker({ id: 'a', slots: 5 }, { id: 'b', slots: 1 });
    nodes.coolDown('a', 1000);
    expect(nodes.pick({}, undefined, 999)?.id).toBe('b');
    nodes.track('x1', 'b', 'j1');
    expect(nodes.pick({}, undefined, 999)).toBeUndefined();
    expect(nodes.pick({}, undefined, 1000)?.id).toBe('a');
  });

  it('calls a node offline only once the registry has been read and no longer lists it', () => {
    const nodes = new NodePicker();
    expect(nodes.isOffline('a')).toBe(false);
    nodes.setOnlineNodes([{ id: 'a', labels: {}, slots: 1 }]);
    expect(nodes.isOffline('a')).toBe(false);
    nodes.setOnlineNodes([]);
    expect(nodes.isOffline('a')).toBe(true);
  });

  it('spreads work among equally free nodes', () => {
    const nodes = picker({ id: 'a', slots: 100 }, { id: 'b', slots: 100 }, { id: 'c', slots: 100 });
    const picked = new Set(Array.from({ length: 200 }, () => nodes.pick({}, undefined, 0)!.id));
    expect(picked).toEqual(new Set(['a', 'b', 'c']));
  });
});
