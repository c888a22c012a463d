import { invalidArgument } from '@jobkeep/errors';
import { timestampDate, timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';

/*
 * Conversions between wire values and the store's plain values. The store names enum values by
 * their short names ('PENDING'); protobuf-es generates TypeScript enums keyed by the same names,
 * so a value converts through the enum's reverse mapping.
 */

export type ProtoEnum = Record<string | number, string | number>;

/**
 * The store's name for a wire enum value, or undefined for UNSPECIFIED (meaning "not given").
 * A number the schema does not define (proto3 enums are open) is INVALID_ARGUMENT.
 */
export function enumName<N extends string>(protoEnum: ProtoEnum, value: number, field: string): N | undefined {
  if (value === 0) return undefined;
  const name = protoEnum[value];
  if (typeof name !== 'string') throw invalidArgument(`${field} has no value ${value}`);
  return name as N;
}

/** Like enumName, for a field that must be given. */
export function requiredEnumName<N extends string>(protoEnum: ProtoEnum, value: number, field: string): N {
  const name = enumName<N>(protoEnum, value, field);
  if (name === undefined) throw invalidArgument(`${field} is required`);
  return name;
}

export function enumNames<N extends string>(protoEnum: ProtoEnum, values: readonly number[], field: string): N[] {
  return values.map((value) => requiredEnumName<N>(protoEnum, value, field));
}

/** The wire value of a store enum name; the empty name (no value) is UNSPECIFIED. */
export function enumValue<E extends number>(protoEnum: ProtoEnum, name: string): E {
  return (name === '' ? 0 : protoEnum[name]) as E;
}

export function timestamp(ms: number): Timestamp {
  return timestampFromMs(ms);
}

export function milliseconds(value: Timestamp | undefined): number | undefined {
  return value === undefined ? undefined : timestampDate(value).getTime();
}

/** A wire revision (uint64) as a store revision; revisions beyond 2^53 cannot exist in a store. */
export function revisionNumber(value: bigint | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${field} ${value} is beyond any revision`);
  return Number(value);
}

/** A required message field: proto3 makes every message field optional on the wire. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw invalidArgument(`${field} is required`);
  return value;
}
