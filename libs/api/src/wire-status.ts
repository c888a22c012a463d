import { JobkeepError } from '@jobkeep/errors';
import { status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

/** Told about every failure that is not a JobkeepError: a bug, or a fault nobody named. */
export type UnexpectedErrorReporter = (error: unknown, methodPath: string) => void;

/**
 * The one place where a server-side failure becomes a status on the wire. A JobkeepError keeps
 * its code and message: it was written for the caller. Anything else may carry paths, SQL or
 * stack details, so the caller only learns that the server failed, and the reporter gets the
 * real error to log.
 */
export function toWireStatus(
  error: unknown,
  methodPath: string,
  reportUnexpected?: UnexpectedErrorReporter,
): Pick<StatusObject, 'code' | 'details'> {
  // OK is not a failure: a JobkeepError carrying it is a bug, and sending it would make the
  // client believe a call without a response succeeded.
  if (error instanceof JobkeepError && error.code !== 'OK') {
    return { code: error.statusCode, details: error.message };
  }
  reportUnexpected?.(error, methodPath);
  return { code: status.INTERNAL, details: 'internal server error' };
}

/**
 * The client side of the same mapping: a failed call becomes the JobkeepError the server threw,
 * with the grpc-js error (and its metadata) kept as the cause. Errors that did not come from a
 * status on the wire are passed through unchanged.
 */
export function fromWireError(error: unknown): unknown {
  return isServiceError(error) ? JobkeepError.fromStatus(error.code, error.details, error) : error;
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === 'number' &&
    typeof (error as Partial<ServiceError>).details === 'string'
  );
}
