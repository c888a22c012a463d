import { JobkeepError } from '@jobkeep/client';

/**
 * Runs a command's action: a failure is printed on stderr as one clear line, with the status
 * code the server gave, and the process exits non-zero. Nothing is printed on stdout, so that
 * a script reading --json output never reads half a result.
 */
export function cliAction<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      process.stderr.write(`error: ${describeError(error)}\n`);
      process.exitCode = 1;
    }
  };
}

export function describeError(error: unknown): string {
  if (error instanceof JobkeepError) {
    return error.code === 'UNAVAILABLE' ? `the jobkeep server is not reachable (${error.message})` : `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
