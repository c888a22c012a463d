import { invalidArgument } from '@jobkeep/errors';
import { LOCK_LIMITS } from './lock-store.js';

// Segments allow ':' so that identifiers such as ARKs ("ark:/13030/x") can be lock names.
const SEGMENT = /^[A-Za-z0-9._:-]+$/;

/**
 * Throws INVALID_ARGUMENT unless `name` is an absolute, "/"-separated path of segments of
 * letters, digits, '.', '_', '-' and ':', with no empty, "." or ".." segment: names read like
 * paths, so they must not be ambiguous as paths.
 */
export function checkLockName(name: string, what = 'lock name'): string {
  if (name === '') throw invalidArgument(`${what} is required`);
  if (name.length > LOCK_LIMITS.maxNameLength) {
    throw invalidArgument(`${what} is ${name.length} characters long; the limit is ${LOCK_LIMITS.maxNameLength}`);
  }
  const segments = name.split('/');
  const valid =
    segments[0] === '' &&
    segments.length > 1 &&
    segments.slice(1).every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..');
  if (!valid) {
    throw invalidArgument(
      `${what} ${JSON.stringify(name)} is not valid: use an absolute path such as "/locks/queue/ingest" whose ` +
        `segments are letters, digits, '.', '_', '-' and ':', with no empty, "." or ".." segment`,
    );
  }
  return name;
}

/** A prefix for listing: any text a name could start with, bounded like a name. */
export function checkLockPrefix(prefix: string | undefined): string {
  const value = prefix ?? '';
  if (value.length > LOCK_LIMITS.maxNameLength) {
    throw invalidArgument(`prefix is ${value.length} characters long; the limit is ${LOCK_LIMITS.maxNameLength}`);
  }
  return value;
}
