import { invalidArgument } from '@jobkeep/errors';

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
