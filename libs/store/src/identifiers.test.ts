import { isJobkeepError } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { checkNodeId, checkOptionalIdentifier } from './identifiers.js';

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
