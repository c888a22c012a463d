import { describe, expect, it } from 'vitest';
import { checkLockName } from './lock-names.js';

describe('checkLockName', () => {
  it.each(['/locks/queue/ingest', '/locks/storage/ark:/13030/x', '/a', '/a.b_c-d:e/1.2', `/${'x'.repeat(511)}`])('accepts %s', (name) => {
    expect(checkLockName(name)).toBe(name);
  });

  it.each(['', 'locks/queue', '/', '/locks/', '//locks', '/locks//queue', '/locks/./q', '/locks/../q', '/locks/q w', '/locks/é', `/${'x'.repeat(512)}`])(
    'refuses %j with INVALID_ARGUMENT',
    (name) => {
      expect(() => checkLockName(name)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );
});
