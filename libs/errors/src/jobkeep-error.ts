import { StatusCode, statusCodeName, type StatusCodeName } from './status-code.js';

/**
 * The one error type of jobkeep. Every failure the server can name is thrown as a JobkeepError
 * carrying the gRPC status it deserves; the server's bridge turns it into that status on the
 * wire, and the client turns the status back into a JobkeepError.
 */
export class JobkeepError extends Error {
  override readonly name = 'JobkeepError';

  constructor(
    readonly code: StatusCodeName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The status code's number on the wire. */
  get statusCode(): number {
    return StatusCode[this.code];
  }

  static fromStatus(code: number, message: string, cause?: unknown): JobkeepError {
    return new JobkeepError(statusCodeName(code), message, { cause });
  }
}

/** Shorthands for the failures every layer raises, so call sites read as the rule they enforce. */
export const invalidArgument = (message: string) => new JobkeepError('INVALID_ARGUMENT', message);
export const notFound = (message: string) => new JobkeepError('NOT_FOUND', message);
export const alreadyExists = (message: string) => new JobkeepError('ALREADY_EXISTS', message);
export const failedPrecondition = (message: string) => new JobkeepError('FAILED_PRECONDITION', message);
/** A write fenced by a lock or a claim its caller no longer holds. */
export const aborted = (message: string) => new JobkeepError('ABORTED', message);
export const resourceExhausted = (message: string) => new JobkeepError('RESOURCE_EXHAUSTED', message);
export const unavailable = (message: string) => new JobkeepError('UNAVAILABLE', message);

export function isJobkeepError(error: unknown, code?: StatusCodeName): error is JobkeepError {
  return error instanceof JobkeepError && (code === undefined || error.code === code);
}
