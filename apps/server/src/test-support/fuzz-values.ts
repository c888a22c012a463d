import { ScalarType, create, toBinary, type DescField, type DescMessage, type JsonObject, type JsonValue } from '@bufbuild/protobuf';

/** A seeded source of randomness (mulberry32): a failing fuzz run reproduces from its seed. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.below(256);
    return out;
  }
}

/**
 * Values that name real records of the fuzzed server, so that some generated requests get past
 * "not found" and reach the code behind it.
 */
export interface KnownValues {
  strings: string[];
  integers: bigint[];
}

const MIB = 1024 * 1024;
const ONE_MIB_STRING = 'x'.repeat(MIB);

/** Strings at the edges: empty, huge, control characters, paths, SQL, unicode, lone surrogates. */
const BOUNDARY_STRINGS = [
  '',
  ' ',
  'a',
  '\u0000',
  '\u0000\u0001\u001f\u007f\n\r\t',
  '../',
  '../../../../etc/passwd',
  '/absolute/path',
  'C:\\windows',
  '{node}',
  '%',
  '_',
  '*',
  "'; DROP TABLE jobs; --",
  '"quoted"',
  'ünïcødé-名前-🚀',
  '\uD800',
  '\u202Eevil',
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(256),
  'a'.repeat(257),
  'n'.repeat(10_000),
  '-1',
  '9223372036854775808',
  'NaN',
  'coordination',
  'null',
  '{}',
];

const INT32 = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 1000, 86_400_000];
const UINT32 = [0, 1, 2 ** 32 - 1, 2 ** 31, 100, 1001, 10_000];
const INT64 = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 86_400n];
const UINT64 = [0n, 1n, 2n ** 64n - 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 53n + 1n];
const DOUBLES = [0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE, 1e-300];

/**
 * Builds request messages whose every field (at any depth) holds a boundary value, from the
 * message's descriptor alone, so that a new field is fuzzed without anyone listing it.
 */
export class MessageFuzzer {
  constructor(
    private readonly random: Prng,
    private readonly known: KnownValues,
  ) {}

  /** A message of `schema`, serialized. */
  message(schema: DescMessage): Uint8Array {
    return toBinary(schema, create(schema, this.init(schema, 0) as never));
  }

  /** A serialized message cut at a random point, and with some bits flipped. */
  mutated(schema: DescMessage): Buffer {
    const bytes = Buffer.from(this.message(schema));
    const truncate = this.random.chance(0.5);
    let out = truncate ? bytes.subarray(0, this.random.below(bytes.length + 1)) : bytes;
    if (!truncate || this.random.chance(0.5)) {
      out = Buffer.from(out);
      for (let flips = 1 + this.random.below(4); flips > 0 && out.length > 0; flips--) {
        const at = this.random.below(out.length);
        out[at]! ^= 1 << this.random.below(8);
      }
    }
    return out;
  }

  private init(schema: DescMessage, depth: number): Record<string, unknown> {
    const init: Record<string, unknown> = {};
    const oneofsSet = new Set<string>();
    for (const field of schema.fields) {
      if (this.random.chance(0.3)) continue;
      if (field.oneof !== undefined) {
        if (oneofsSet.has(field.oneof.localName)) continue;
        oneofsSet.add(field.oneof.localName);
        init[field.oneof.localName] = { case: field.localName, value: this.single(field, depth) };
      } else {
        init[field.localName] = this.value(field, depth);
      }
    }
    return init;
  }

  private value(field: DescField, depth: number): unknown {
    // Thousands of messages (a CreateBatch of jobs) would grow the fuzzed databases until calls slow down.
    if (field.fieldKind === 'list') return this.repeat(() => this.element(field, depth), field.listKind !== 'message');
    if (field.fieldKind === 'map') {
      const map: Record<string, unknown> = {};
      this.repeat(() => (map[String(this.scalar(field.mapKey))] = this.element(field, depth)), field.mapKind !== 'message');
      return map;
    }
    return this.single(field, depth);
  }

  private single(field: DescField, depth: number): unknown {
    if (field.fieldKind === 'scalar') return this.scalar(field.scalar);
    if (field.fieldKind === 'enum') return this.enumValue(field.enum.values.map((value) => value.number));
    if (field.fieldKind === 'message') return this.messageValue(field.message, depth);
    throw new Error(`unexpected field kind of ${field.name}`);
  }

  private element(field: Extract<DescField, { fieldKind: 'list' | 'map' }>, depth: number): unknown {
    if (field.scalar !== undefined) return this.scalar(field.scalar);
    if (field.enum !== undefined) return this.enumValue(field.enum.values.map((value) => value.number));
    return this.messageValue(field.message!, depth);
  }

  private repeat<T>(make: () => T, mayBeHuge: boolean): T[] {
    const roll = this.random.next();
    const count = roll < 0.3 ? 0 : roll < 0.7 ? 1 : roll < 0.93 || !mayBeHuge ? 3 + this.random.below(5) : 1000 + this.random.below(4000);
    return Array.from({ length: count }, make);
  }

  private enumValue(numbers: number[]): number {
    return this.random.chance(0.8) ? this.random.pick(numbers) : this.random.pick([-1, 999, 2 ** 31 - 1]);
  }

  private messageValue(schema: DescMessage, depth: number): unknown {
    if (schema.typeName === 'google.protobuf.Struct') return this.struct(0);
    if (schema.typeName === 'google.protobuf.Value') return this.json(0);
    if (schema.typeName === 'google.protobuf.Timestamp' || schema.typeName === 'google.protobuf.Duration') {
      return { seconds: this.random.pick(INT64), nanos: this.random.pick([...INT32, 999_999_999, 1_000_000_000]) };
    }
    return depth > 4 ? {} : this.init(schema, depth + 1);
  }

  private struct(depth: number): JsonObject {
    const object: JsonObject = {};
    if (this.random.chance(0.05)) {
      // Deeply nested, as a hostile client would send; within protobuf-es' recursion limit of 100
      // messages (each level is a Struct and a Value), beyond which the bytes do not parse.
      let inner: JsonObject = object;
      for (let level = 0; level < 40; level++) inner = inner.n = {};
      return object;
    }
    const keys = depth > 3 ? 0 : this.random.below(5);
    for (let i = 0; i < keys; i++) object[this.random.pick(BOUNDARY_STRINGS).slice(0, 300)] = this.json(depth + 1);
    return object;
  }

  private json(depth: number): JsonValue {
    switch (this.random.below(6)) {
      case 0:
        return null;
      case 1:
        return this.random.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1]);
      case 2:
        return this.string();
      case 3:
        return this.random.chance(0.5);
      case 4:
        return depth > 3 ? [] : [this.json(depth + 1), this.json(depth + 1)];
      default:
        return this.struct(depth + 1);
    }
  }

  private string(): string {
    if (this.random.chance(0.02)) return ONE_MIB_STRING;
    if (this.random.chance(0.35) && this.known.strings.length > 0) return this.random.pick(this.known.strings);
    return this.random.pick(BOUNDARY_STRINGS);
  }

  private scalar(type: ScalarType): unknown {
    switch (type) {
      case ScalarType.STRING:
        return this.string();
      case ScalarType.BYTES:
        return this.random.bytes(this.random.pick([0, 1, 64, 65_536, this.random.chance(0.1) ? MIB + 1 : 16]));
      case ScalarType.BOOL:
        return this.random.chance(0.5);
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        return this.random.pick(DOUBLES);
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        return this.random.pick(INT32);
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return this.random.pick(UINT32);
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return this.random.chance(0.3) && this.known.integers.length > 0 ? this.random.pick(this.known.integers) : this.random.pick(UINT64);
      default:
        return this.random.chance(0.3) && this.known.integers.length > 0 ? this.random.pick(this.known.integers) : this.random.pick(INT64);
    }
  }
}
