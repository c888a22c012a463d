import type { Executor } from './executor.js';

/** The `noop` executor, for demos and tests: succeeds at once, having done nothing. */
export const noopExecutor: Executor = async (_spec, { signal }) =>
  signal.aborted ? { exitCode: 143, stdoutTail: '', stderrTail: '', failure: 'stopped', stopped: true } : { exitCode: 0, stdoutTail: '', stderrTail: '', stopped: false };
