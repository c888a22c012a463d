import { expect } from 'vitest';

/**
 * Matches a JobkeepError of `code` whose message holds every fragment, in order: what a test
 * checks of a refused call, e.g. `rejects.toEqual(failsWith('FAILED_PRECONDITION', 'RUNNING'))`.
 */
export function failsWith(code: string, ...fragments: string[]) {
  const inOrder = fragments.map((fragment) => fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return expect.objectContaining({ code, message: expect.stringMatching(inOrder) });
}
