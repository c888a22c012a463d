import { invalidArgument } from '@jobkeep/errors';
import type { NodeDatabaseKind } from './database-locations.js';
import { checkOneOf } from './job-validation.js';

export const CHECKPOINT_LIMITS = {
  nameLength: 256,
  /** A checkpoint's data, in bytes. */
  dataBytes: 1024 * 1024,
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

export function checkCheckpointName(name: string): string {
  if (name === '') throw invalidArgument('checkpoint name is required');
  return checkNameCharacters('checkpoint name', name);
}

/** Like a name, but the empty prefix (meaning "every checkpoint") is allowed. */
export function checkCheckpointPrefix(prefix: string | undefined): string {
  return prefix === undefined || prefix === '' ? '' : checkNameCharacters('prefix', prefix);
}

export function checkCheckpointData(data: Uint8Array): Uint8Array {
  if (data.byteLength > CHECKPOINT_LIMITS.dataBytes) {
    throw invalidArgument(`checkpoint data is ${data.byteLength} bytes; the limit is ${CHECKPOINT_LIMITS.dataBytes}`);
  }
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
