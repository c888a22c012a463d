import { describe, expect, it } from 'vitest';
import { WatchSlots } from './watch-slots.js';

describe('WatchSlots', () => {
  it('counts watches per connection, refusing one past the limit until a slot is given back', () => {
    const slots = new WatchSlots(2);
    const first = slots.take('ipv4:127.0.0.1:5000');
    slots.take('ipv4:127.0.0.1:5000');
    expect(() => slots.take('ipv4:127.0.0.1:5000')).toThrow(
      expect.objectContaining({
        code: 'RESOURCE_EXHAUSTED',
        message:
          'this connection already has 2 watches open, the most one connection may have (--max-watches-per-connection): ' +
          'close a watch, or watch over another connection',
      }),
    );
    // Another connection has slots of its own.
    slots.take('ipv4:127.0.0.1:5001');
    first();
    // Giving a slot back twice frees it once.
    first();
    slots.take('ipv4:127.0.0.1:5000');
    expect(() => slots.take('ipv4:127.0.0.1:5000')).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
  });
});
