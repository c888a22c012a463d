import { describe, expect, it } from 'vitest';
import { attemptOf, executionIdFor, parseJobSpec } from './agent-protocol.js';

describe('the agent protocol', () => {
  it('names the k-th execution of a job the same way every time, and reads k back', () => {
    expect(executionIdFor('j-1', 3)).toBe('j-1.x3');
    expect(attemptOf(executionIdFor('j-1', 12))).toBe(12);
    expect(attemptOf('e-not-ours')).toBe(0);
  });

  it('reads a job spec, exec being the default executor', () => {
    expect(parseJobSpec({ argv: ['echo', 'hi'], timeoutMs: 500, env: { A: 'b' }, constraints: { zone: 'a' } })).toEqual({
      executor: 'exec',
      argv: ['echo', 'hi'],
      timeoutMs: 500,
      env: { A: 'b' },
      constraints: { zone: 'a' },
    });
    expect(parseJobSpec({ executor: 'sleep', sleepMs: 10 })).toEqual({ executor: 'sleep', sleepMs: 10 });
    expect(parseJobSpec({ executor: 'noop' })).toEqual({ executor: 'noop' });
  });

  it.each([
    [[], 'object'],
    [{ executor: 'shell' }, 'spec.executor'],
    [{ executor: 'exec' }, 'spec.argv'],
    [{ argv: ['echo', 3] }, 'spec.argv'],
    [{ argv: ['x'], env: { A: 1 } }, 'spec.env'],
    [{ executor: 'sleep', sleepMs: -1 }, 'spec.sleepMs'],
    [{ argv: ['x'], timeoutMs: 1.5 }, 'spec.timeoutMs'],
  ])('refuses a bad spec %j with INVALID_ARGUMENT naming the field', (spec, field) => {
    expect(() => parseJobSpec(spec)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(field) }));
  });
});
