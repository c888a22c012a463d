import { isJobkeepError } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { checkNodeId, checkOptionalIdentifier, newRecordId } from './identifiers.js';

describe('node ids', () => {
  it.each(['node-1', 'a', 'A.b_c-9', 'x'.repeat(128)])('accepts %s', (id) => {
    expect(checkNodeId(id)).toBe(id);
  });

  it.each(['', '../x', 'a/b', 'a\\b', '.hidden', '-flag', 'a..b', 'x'.repeat(129), 'a b', 'é'])(
    'refuses %j with INVALID_ARGUMENT',
    (id) => {
      let caught: unknown;
      try {
        checkNodeId(id);
      } catch (error) {
        caught = error;
      }
      expect(isJobkeepError(caught, 'INVALID_ARGUMENT')).toBe(true);
      expect((caught as Error).message).toContain('node_id');
    },
  );

  it('treats an empty optional identifier as none', () => {
    expect(checkOptionalIdentifier('queue', '')).toBe('');
    expect(checkOptionalIdentifier('queue', undefined)).toBe('');
    expect(() => checkOptionalIdentifier('queue', 'a/b')).toThrow(/queue/);
  });
});

describe('new record ids', () => {
  it('are well-formed identifiers holding a version 7 UUID whose first 48 bits are the time in milliseconds', () => {
    const before = Date.now();
    const id = newRecordId('j');
    const after = Date.now();
    expect(id).toMatch(/^j-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(checkNodeId(id)).toBe(id);
    const millis = Number.parseInt(id.slice(2, 15).replace('-', ''), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(after);
  });

  it('sort by creation time across milliseconds, so that new records append to the indexes they key', async () => {
    const earlier = newRecordId('e');
    await new Promise((resolve) => setTimeout(resolve, 2));
    const later = newRecordId('e');
    expect(earlier < later).toBe(true);
  });

  it('are unique', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newRecordId('b')));
    expect(ids.size).toBe(10_000);
  });
});
