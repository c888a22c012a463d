import { JobkeepError } from '@jobkeep/errors';
import { status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

/**
 * The most UTF-8 bytes of a message sent as a status. Messages that quote a caller's input would
 * otherwise grow with it, and the message travels in the grpc-message trailer, percent-encoded (up
 * to three times longer). Clients refuse metadata past their limit: gRPC's C core by default past
 * 8 KiB; Node's HTTP/2 layer (nghttp2) fails a header field past 64 KiB with COMPRESSION_ERROR,
 * after which grpc-js leaves that call and the next ones on the connection unanswered until their
 * deadlines.
 */
export const MAX_STATUS_MESSAGE_BYTES = 1024;

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
    return { code: error.statusCode, details: boundedMessage(error.message) };
  }
  reportUnexpected?.(error, methodPath);
  return { code: status.INTERNAL, details: 'internal server error' };
}

/** The message, cut between characters (never inside a surrogate pair) to fit the limit, ending in '…' when cut. */
function boundedMessage(message: string): string {
  if (Buffer.byteLength(message) <= MAX_STATUS_MESSAGE_BYTES) return message;
  const ellipsis = '…';
  let bytes = Buffer.byteLength(ellipsis);
  let kept = '';
  for (const character of message) {
    bytes += Buffer.byteLength(character);
    if (bytes > MAX_STATUS_MESSAGE_BYTES) break;
    kept += character;
  }
  return kept + ellipsis;
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
