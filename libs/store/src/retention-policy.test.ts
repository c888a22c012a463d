import { describe, expect, it } from 'vitest';
import { JOB_STATES, TERMINAL_JOB_STATES } from './job-model.js';
import { parseDuration, parseRetentionPolicy } from './retention-policy.js';

const jobStates = { all: JOB_STATES, terminal: TERMINAL_JOB_STATES as ReadonlySet<string> };

describe('retention policies', () => {
  it('keeps everything by default', () => {
    expect(parseRetentionPolicy('', jobStates)).toEqual({});
    expect(parseRetentionPolicy({}, jobStates)).toEqual({});
  });

  it('reads STATE=action:duration pairs, from text or from a config object', () => {
    const expected = {
      COMPLETED: { action: 'delete', olderThanMs: 7 * 86_400_000 },
      RUNNING: { action: 'fail', olderThanMs: 24 * 3_600_000 },
    };
    expect(parseRetentionPolicy('COMPLETED=delete:7d, RUNNING=fail:24h', jobStates)).toEqual(expected);
    expect(parseRetentionPolicy({ COMPLETED: 'delete:7d', RUNNING: 'fail:24h' }, jobStates)).toEqual(expected);
  });

  it.each([
    ['RUNNING=delete:1d', /not terminal/],
    ['COMPLETED=fail:1d', /terminal/],
    ['DONE=delete:1d', /not one of/],
    ['COMPLETED=delete:soon', /not a duration/],
    ['COMPLETED=archive:1d', /delete or fail/],
    ['COMPLETED=delete:1d,COMPLETED=delete:2d', /twice/],
    ['COMPLETED', /STATE=action:duration/],
  ])('refuses %s', (text, message) => {
    expect(() => parseRetentionPolicy(text, jobStates)).toThrow(message);
  });

  it('reads durations in every unit', () => {
    expect([parseDuration('250ms'), parseDuration('90s'), parseDuration('15m'), parseDuration('2h'), parseDuration('7d')]).toEqual([
      250, 90_000, 900_000, 7_200_000, 604_800_000,
    ]);
    expect(() => parseDuration('0s')).toThrow();
  });
});
