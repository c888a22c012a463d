import { invalidArgument } from '@jobkeep/errors';
import { randomUUID } from 'node:crypto';

/**
 * Node ids become part of file names, so they are checked before any path is built: a leading
 * letter or digit, then letters, digits, '.', '_' or '-', 128 characters at most, never "..".
 * Job, execution and namespace identifiers follow the same rule so that they stay safe to show
 * in shells, URLs and file names.
 */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const MAX_IDENTIFIER_LENGTH = 128;

/** Throws INVALID_ARGUMENT unless `value` is a well-formed identifier; `what` names the field. */
export function checkIdentifier(what: string, value: string): string {
  if (value === '') throw invalidArgument(`${what} is required`);
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw invalidArgument(`${what} is ${value.length} characters long; the limit is ${MAX_IDENTIFIER_LENGTH}`);
  }
  if (!IDENTIFIER.test(value) || value.includes('..')) {
    throw invalidArgument(
      `${what} ${JSON.stringify(value)} is not valid: use letters, digits, '.', '_' and '-', ` +
        `starting with a letter or digit, without ".."`,
    );
  }
  return value;
}

/** Like checkIdentifier, but the empty string (meaning "none") is allowed. */
export function checkOptionalIdentifier(what: string, value: string | undefined): string {
  return value === undefined || value === '' ? '' : checkIdentifier(what, value);
}

export function checkNodeId(nodeId: string): string {
  return checkIdentifier('node_id', nodeId);
}

/**
 * A new job, execution or batch id: the prefix, then a time-ordered UUID (RFC 9562 version 7:
 * 48 bits of Unix milliseconds, then random bits). These ids key the primary indexes of jobs,
 * specs, labels, executions and history. Ids that grow with time append at the right edge of
 * those B-trees, where random ones dirtied a different page of each index per record: that
 * halved the CPU of a CreateJob (tools/bench/RESULTS.md, "time-ordered ids").
 *
 * Written here rather than taken from the `uuid` package: its v7 draws fresh entropy for every
 * id (about 4 µs here), while node's randomUUID draws from a pooled buffer (about 0.2 µs). The
 * random UUID's version digit becomes 7; its variant bits are already RFC 9562's.
 */
export function newRecordId(prefix: 'j' | 'e' | 'b'): string {
  const time = Date.now().toString(16).padStart(12, '0');
  const random = randomUUID();
  return `${prefix}-${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
