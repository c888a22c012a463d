import { SPEC_LIMITS } from '@jobkeep/client';
import type { Executor, RunOutcome } from './executor.js';

/**
 * The `sleep` executor, for demos and tests: waits `sleepMs` (0 by default), and fails like an
 * exec run would when that is longer than the spec's timeout.
 */
export const sleepExecutor: Executor = (spec, { signal }) => {
  const sleepMs = spec.sleepMs ?? 0;
  const timeoutMs = spec.timeoutMs || SPEC_LIMITS.defaultTimeoutMs;
  const result = (outcome: Partial<RunOutcome>): RunOutcome => ({ exitCode: 0, stdoutTail: '', stderrTail: '', stopped: false, ...outcome });
  if (signal.aborted) return Promise.resolve(result({ exitCode: 143, failure: 'stopped', stopped: true }));
  return new Promise((resolve) => {
    const finish = (outcome: RunOutcome) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const timer =
      sleepMs > timeoutMs
        ? setTimeout(() => finish(result({ exitCode: 143, failure: `timed out after ${timeoutMs} ms` })), timeoutMs)
        : setTimeout(() => finish(result({ stdoutTail: `slept ${sleepMs} ms\n` })), sleepMs);
    const onAbort = () => finish(result({ exitCode: 143, failure: 'stopped', stopped: true }));
    signal.addEventListener('abort', onAbort, { once: true });
  });
};
