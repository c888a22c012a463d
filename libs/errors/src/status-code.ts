/**
 * The gRPC status codes, by their numbers on the wire. Kept here rather than imported from
 * grpc-js so that libraries which must not depend on gRPC (the store) can still say which
 * status a failure deserves.
 */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusCodeName = keyof typeof StatusCode;
export type StatusCodeNumber = (typeof StatusCode)[StatusCodeName];

const namesByNumber = new Map<number, StatusCodeName>(
  Object.entries(StatusCode).map(([name, code]) => [code, name as StatusCodeName]),
);

/** The name of a status code number, or UNKNOWN for a number gRPC does not define. */
export function statusCodeName(code: number): StatusCodeName {
  return namesByNumber.get(code) ?? 'UNKNOWN';
}
