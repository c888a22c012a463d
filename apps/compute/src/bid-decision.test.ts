import { describe, expect, it } from 'vitest';
import { decideBid, type BidContext } from './bid-decision.js';

const bid = (context: Partial<BidContext>) =>
  decideBid({ jobSpec: { executor: 'noop' }, labels: { zone: 'a', gpu: 'yes' }, slots: 2, busySlots: 0, stopping: false, ...context });

describe('decideBid', () => {
  it('takes a bid while a slot is free and refuses it once all are busy', () => {
    expect(bid({ busySlots: 1 })).toEqual({ accept: true });
    expect(bid({ busySlots: 2 })).toEqual({ accept: false, reason: 'no free slot' });
  });

  it('refuses a job whose constraints its labels do not meet, naming them', () => {
    expect(bid({ jobSpec: { executor: 'noop', constraints: { zone: 'a' } } })).toEqual({ accept: true });
    expect(bid({ jobSpec: { executor: 'noop', constraints: { zone: 'b', gpu: 'yes', arch: 'arm' } } })).toEqual({
      accept: false,
      reason: 'constraints not met: zone=b,arch=arm',
    });
  });

  it('takes a spec that does not parse, so that its run fails with the reason instead of wandering from node to node', () => {
    expect(bid({ jobSpec: { executor: 'teleport' } })).toEqual({ accept: true });
  });

  it('refuses everything while the node is shutting down', () => {
    expect(bid({ stopping: true })).toEqual({ accept: false, reason: 'node shutting down' });
  });
});
