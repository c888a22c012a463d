import { invalidArgument } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import { checkOneOf } from './job-validation.js';

/** The data's size is a setting of the deployment instead (StoreLimits.maxBlobBytes). */
export const CHECKPOINT_LIMITS = {
  nameLength: 256,
} as const;

/*
 * Names may be hierarchical ("orchestrator/last-revision"), and they hold no GLOB
 * metacharacters, so a prefix list is a plain GLOB prefix match that the unique index on
 * `name` serves.
 */
const NAME = /^[A-Za-z0-9._/-]+$/;

const NODE_DATABASE_KINDS: readonly NodeDatabaseKind[] = ['requester', 'compute'];

export function checkDatabaseKind(kind: string): NodeDatabaseKind {
  return checkOneOf('kind', NODE_DATABASE_KINDS, kind);
}

export function checkCheckpointName(name: string, what = 'checkpoint name'): string {
  if (name === '') throw invalidArgument(`${what} is required`);
  return checkNameCharacters(what, name);
}

/** Like a name, but the empty prefix (meaning "every checkpoint") is allowed. */
export function checkCheckpointPrefix(prefix: string | undefined, what = 'prefix'): string {
  return prefix === undefined || prefix === '' ? '' : checkNameCharacters(what, prefix);
}

export function checkCheckpointData(data: Uint8Array, maxBytes: number, what = 'checkpoint data'): Uint8Array {
  if (data.byteLength > maxBytes) throw invalidArgument(`${what} is ${data.byteLength} bytes; the limit is ${maxBytes}`);
  return data;
}

function checkNameCharacters(what: string, value: string): string {
  if (value.length > CHECKPOINT_LIMITS.nameLength) {
    throw invalidArgument(`${what} is ${value.length} characters long; the limit is ${CHECKPOINT_LIMITS.nameLength}`);
  }
  if (!NAME.test(value)) {
    throw invalidArgument(`${what} ${JSON.stringify(value)} is not valid: use letters, digits, '.', '_', '-' and '/'`);
  }
  return value;
}
