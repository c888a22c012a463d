import { createHash } from 'node:crypto';
import { invalidArgument } from '@jobkeep/errors';

/** Page sizes every list accepts. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/**
 * The longest page token: a cursor holds one key, at most a lock name of LOCK_LIMITS.maxNameLength
 * characters, which base64url makes about 700. Anything longer was not issued here.
 */
export const MAX_PAGE_TOKEN_LENGTH = 1024;

export function checkPageSize(pageSize: number | undefined): number {
  if (pageSize === undefined || pageSize === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
    throw invalidArgument(`page_size must be between 1 and ${MAX_PAGE_SIZE}, not ${pageSize}`);
  }
  return pageSize;
}

/**
 * A keyset cursor: the sort key of the last item returned, and a fingerprint of the query it
 * belongs to, so that a token is never applied to a different query by mistake. Opaque to
 * clients (base64url JSON).
 */
export interface Cursor {
  /** The order column's value and the id of the last item of the page. */
  after: [number, string];
}

export function queryFingerprint(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 12);
}

export function encodePageToken(cursor: Cursor, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ a: cursor.after, q: fingerprint })).toString('base64url');
}

export function decodePageToken(token: string | undefined, fingerprint: string): Cursor | undefined {
  if (token === undefined || token === '') return undefined;
  if (token.length > MAX_PAGE_TOKEN_LENGTH) throw invalidArgument('page_token is not a token this server issued');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidArgument('page_token is not a token this server issued');
  }
  const { a, q } = (decoded ?? {}) as { a?: unknown; q?: unknown };
  if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'number' || typeof a[1] !== 'string') {
    throw invalidArgument('page_token is not a token this server issued');
  }
  if (q !== fingerprint) {
    throw invalidArgument('page_token belongs to a list with other filters or order; start again without it');
  }
  return { after: [a[0], a[1]] };
}
