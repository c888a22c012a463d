import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newRequestId', () => {
  it('makes distinct version-7 UUIDs, past many refills of its random pool', () => {
    const ids = Array.from({ length: 5_000 }, () => newRequestId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });

  it('orders the ids of later milliseconds after earlier ones', async () => {
    const earlier = newRequestId();
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(newRequestId() > earlier).toBe(true);
  });
});
