import { JobkeepError, type StatusCodeName } from '@jobkeep/errors';

/** The process's exit codes, as --help and the README document them. */
export const EXIT = {
  ok: 0,
  /** `check` found problems. */
  problems: 1,
  /** A usage error, or INVALID_ARGUMENT. */
  usage: 2,
  notFound: 3,
  /** FAILED_PRECONDITION, ALREADY_EXISTS or ABORTED: refused, e.g. a data dir held by a live server. */
  refused: 4,
  /** The server is unavailable, or any other failure. */
  failure: 5,
  /** Interrupted by SIGINT (128 + 2), after the step under way finished. */
  interrupted: 130,
  /**
   * stdout was closed before everything was written (`export NAME | head`): 128 + SIGPIPE, as a
   * shell reports a pipeline stage that SIGPIPE ended, so that `set -o pipefail` sees that the
   * output was cut short rather than taking it for the whole.
   */
  brokenPipe: 141,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    check found problems
  2    usage error, or INVALID_ARGUMENT
  3    NOT_FOUND (a database, table, key, job or lock that does not exist)
  4    refused: FAILED_PRECONDITION, ALREADY_EXISTS or ABORTED (a data dir held by a live
       server, retiring a node that still has live jobs, ...)
  5    the server is unavailable, or any other failure
  130  interrupted (SIGINT) during drain, after the step under way finished
  141  stdout was closed before the output was all written (export NAME | head)`;

const BY_CODE: Partial<Record<StatusCodeName, number>> = {
  INVALID_ARGUMENT: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  FAILED_PRECONDITION: EXIT.refused,
  ALREADY_EXISTS: EXIT.refused,
  ABORTED: EXIT.refused,
};

/** The status code a failure is reported under: a JobkeepError's own, or one that fits the error. */
export function errorCode(error: unknown): string {
  if (error instanceof JobkeepError) return error.code;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'NOT_FOUND';
  if (code === 'EEXIST') return 'ALREADY_EXISTS';
  return 'INTERNAL';
}

export function exitCodeFor(error: unknown): number {
  return BY_CODE[errorCode(error) as StatusCodeName] ?? EXIT.failure;
}
