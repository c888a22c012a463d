import type { DescField, DescService, Message, MessageShape } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { LockGuard } from '@jobkeep/api';
import { JobkeepError, invalidArgument } from '@jobkeep/errors';
import {
  MAX_PAGE_TOKEN_LENGTH,
  checkCheckpointData,
  checkIdentifier,
  checkLabels,
  checkLockName,
  checkOptionalIdentifier,
  checkPageSize,
  checkTextLength,
  encodeSpec,
  type JsonObject,
  type StoreLimits,
} from '@jobkeep/store';

/*
 * The vocabulary of request rules: one rule per field of a request message, checked before
 * the handler runs (see request-validation.ts). Rules reuse the store's checkers and limits,
 * so that a limit is defined once; the store checks again for callers that are not gRPC.
 * Every failure is INVALID_ARGUMENT, naming the field by its path in the request
 * ("jobs[3].labels"): a request that breaks a rule can never succeed as sent.
 */

/** The limits of a deployment that some rules check against (--max-spec-bytes, --max-blob-bytes). */
export type RequestLimits = Pick<StoreLimits, 'maxSpecBytes' | 'maxBlobBytes'>;

/** Checks one value; `field` is the field it is (or whose list it is part of), `path` names it. */
export type ValueCheck = (value: never, path: string, limits: RequestLimits, field: DescField) => void;

/** A rule for one field. The kinds let a test see that every field of every request has one. */
export type Rule = ValueRule | IgnoredRule | MessageRule | RepeatedRule | OneofRule;

/** A scalar, enum or map field, or a well-known type (Struct, Timestamp, FieldMask) as a whole. */
export interface ValueRule {
  readonly kind: 'value';
  readonly check: ValueCheck;
}

/** A field the server never reads, such as an output-only field of a record sent back. */
export interface IgnoredRule {
  readonly kind: 'ignored';
  readonly why: string;
}

export interface MessageRule {
  readonly kind: 'message';
  readonly required: boolean;
  readonly fields: Readonly<Record<string, Rule>>;
  /** A check across fields, run once every field has passed its own. */
  readonly across?: ValueCheck;
}

export interface RepeatedRule {
  readonly kind: 'repeated';
  readonly max: (field: DescField) => number;
  readonly element: ValueRule | MessageRule;
  /** Said after the count when there are too many. */
  readonly hint?: string;
}

export interface OneofRule {
  readonly kind: 'oneof';
  readonly required: boolean;
  /** A rule per member of the oneof, by the member's local name. */
  readonly members: Readonly<Record<string, Rule>>;
}

type FieldName<M> = Exclude<keyof M, '$typeName' | '$unknown'>;

/** A rule for every field of message M, keyed by the fields' (or oneofs') local names. */
export type FieldRules<M extends Message> = { readonly [K in FieldName<M>]-?: Rule };

/** The rules of every request message of a service, by the methods' local names. */
export type ServiceRules<S extends DescService> = {
  readonly [K in keyof S['method']]-?: FieldRules<MessageShape<S['method'][K]['input']>>;
};

/** A value rule from a check of the value's own type. */
export function value<V>(check: (value: V, path: string, limits: RequestLimits, field: DescField) => void): ValueRule {
  return { kind: 'value', check: check as ValueCheck };
}

export function ignored(why: string): IgnoredRule {
  return { kind: 'ignored', why };
}

/** A nested message, checked field by field; absent is fine unless `required`. */
export function message<M extends Message>(
  fields: FieldRules<M>,
  options: { required?: boolean; across?: (value: M, path: string, limits: RequestLimits) => void } = {},
): MessageRule {
  return { kind: 'message', required: options.required ?? false, fields, across: options.across as ValueCheck | undefined };
}

/** A repeated field of at most `max` values, each checked by `element`. */
export function repeated(max: number, element: ValueRule | MessageRule, hint?: string): RepeatedRule {
  return { kind: 'repeated', max: () => max, element, hint };
}

/** A repeated enum field: each value known, and no more values than the enum has (UNSPECIFIED aside). */
export function enumList(): RepeatedRule {
  return { kind: 'repeated', max: (field) => field.enum!.values.length - 1, element: enumValue({ required: true }) };
}

export function oneof(members: Record<string, Rule>, options: { required?: boolean } = {}): OneofRule {
  return { kind: 'oneof', required: options.required ?? false, members };
}

// Text and identifiers.

/** Letters, digits, '.', '_' and '-', up to 128 characters (node ids, job ids, queues...). */
export const identifier = (): ValueRule => value<string>((text, path) => checkIdentifier(path, text));

/** An identifier, or the empty string for "none". */
export const optionalIdentifier = (): ValueRule => value<string>((text, path) => checkOptionalIdentifier(path, text));

/** Any text of at most `max` characters. */
export const text = (max: number): ValueRule => value<string>((given, path) => checkTextLength(path, given, max));

/**
 * Text whose only bound is the size of the message that carries it, such as an exported row
 * of an import: any length the message allows is fine.
 */
export const boundedByMessage = (): ValueRule => value<string>(() => undefined);

/** A lock name ("/locks/queue/ingest"); absent is the empty string, which is refused. */
export const lockName = (): ValueRule => value<string>((name, path) => checkLockName(name, path));

// Numbers.

/** Any integer from `min` to `max` (int32, uint32, int64 and uint64 alike). */
export function integer(min: number, max: number): ValueRule {
  return value<number | bigint | undefined>((given, path) => {
    if (given === undefined) return;
    const number = BigInt(given);
    if (number < BigInt(min) || number > BigInt(max)) throw invalidArgument(`${path} must be an integer from ${min} to ${max}, not ${number}`);
  });
}

/** Every value of the field's type is valid: a bool, or an int32 taken as it comes. */
export const anyValue = (): ValueRule => value<unknown>(() => undefined);

/** A revision (from_revision, expected_revision): the store counts them in safe integers. */
export const revision = (): ValueRule => integer(0, Number.MAX_SAFE_INTEGER);

/** A lease id, fencing token or claim token this server handed out: never 0, never past 2^53. */
export const handedOut = (what: string): ValueRule =>
  value<bigint>((given, path) => {
    if (given === 0n) throw invalidArgument(`${path} is required: ${what}`);
    if (given > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${path} ${given} is not ${what}`);
  });

const PAGE_SIZE = value<number>((size) => void checkPageSize(size));
const PAGE_TOKEN = text(MAX_PAGE_TOKEN_LENGTH);

/** 1 to MAX_PAGE_SIZE, or 0 for the default; one rule for every list, so a test can see each list has it. */
export const pageSize = (): ValueRule => PAGE_SIZE;

/** A page token as this server issues them. */
export const pageToken = (): ValueRule => PAGE_TOKEN;

// Enums.

/**
 * A value the enum defines (proto3 enums are open: any number arrives). UNSPECIFIED means "not
 * given": refused when `required`. With `allowed`, only those values (by their short names).
 */
export function enumValue(options: { required?: boolean; allowed?: readonly string[] } = {}): ValueRule {
  return value<number>((number, path, _limits, field) => {
    const values = field.enum!.values.filter((candidate) => candidate.number !== 0);
    const allowed = options.allowed ?? values.map((candidate) => candidate.localName);
    if (number === 0) {
      if (options.required === true) throw invalidArgument(`${path} is required: one of ${allowed.join(', ')}`);
      return;
    }
    const name = values.find((candidate) => candidate.number === number)?.localName;
    if (name === undefined) throw invalidArgument(`${path} has no value ${number}: use one of ${allowed.join(', ')}`);
    if (!allowed.includes(name)) throw invalidArgument(`${path} must be one of ${allowed.join(', ')}, not ${name}`);
  });
}

// Well-known types, sizes and maps.

/** The range of google.protobuf.Timestamp: years 1 to 9999, nanoseconds within a second. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;

export const timestamp = (): ValueRule =>
  value<Timestamp | undefined>((time, path) => {
    if (time === undefined) return;
    if (time.seconds < MIN_TIMESTAMP_SECONDS || time.seconds > MAX_TIMESTAMP_SECONDS || time.nanos < 0 || time.nanos > 999_999_999) {
      throw invalidArgument(`${path} is not a time: seconds from ${MIN_TIMESTAMP_SECONDS} to ${MAX_TIMESTAMP_SECONDS} and nanos from 0 to 999999999`);
    }
  });

/** A job spec (google.protobuf.Struct), at most --max-spec-bytes once encoded as JSON. */
export const spec = (): ValueRule =>
  value<JsonObject | undefined>((given, path, limits) => {
    if (given !== undefined) encodeSpec(path, given, limits.maxSpecBytes);
  });

/** Opaque data, at most --max-blob-bytes. */
export const blob = (): ValueRule => value<Uint8Array>((data, path, limits) => void checkCheckpointData(data, limits.maxBlobBytes, path));

/** Labels, or a label selector: `owner` says whose ("a job"), as the limits read. */
export const labels = (owner: string): ValueRule =>
  value<Record<string, string>>((given, path) => within(path, () => checkLabels(given, owner)));

/** A google.protobuf.FieldMask naming at least one of `paths`, each at most once. */
export const fieldMask = (paths: readonly string[]): ValueRule =>
  value<{ paths: string[] } | undefined>((mask, path) => {
    const named = mask?.paths ?? [];
    if (named.length === 0) throw invalidArgument(`${path} must name the fields to change: any of ${paths.join(', ')}`);
    for (const [index, name] of named.entries()) {
      if (!paths.includes(name)) throw invalidArgument(`${path} names ${JSON.stringify(name)}; updatable fields are ${paths.join(', ')}`);
      if (named.indexOf(name) !== index) throw invalidArgument(`${path} names ${name} twice`);
    }
  });

/** A write's lock_guard: when present, it names a lock and the token of its holding. */
export const lockGuard = (): MessageRule =>
  message<LockGuard>({
    lockName: lockName(),
    fencingToken: handedOut('a fencing token from Acquire'),
  });

/** Runs a store check whose messages do not name the field, prefixing them with its path. */
function within(path: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (error instanceof JobkeepError) throw new JobkeepError(error.code, `${path}: ${error.message}`);
    throw error;
  }
}
