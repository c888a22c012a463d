/**
 * Just enough of the protobuf wire format for the few etcd messages the benchmark sends:
 * varint fields (int64, bool) and length-delimited ones (bytes). Written here rather than
 * generated from etcd's .proto files, which import gogoproto and Google API annotations that
 * this repository does not carry.
 */

/** A field to encode: an integer as a varint (two's complement for negatives), bytes as is. */
export type WireField = [fieldNumber: number, value: bigint | Uint8Array];

export function encodeMessage(fields: WireField[]): Buffer {
  const bytes: number[] = [];
  for (const [fieldNumber, value] of fields) {
    if (typeof value === 'bigint') {
      pushVarint(bytes, BigInt(fieldNumber << 3));
      pushVarint(bytes, BigInt.asUintN(64, value));
    } else {
      pushVarint(bytes, BigInt((fieldNumber << 3) | 2));
      pushVarint(bytes, BigInt(value.length));
      for (const byte of value) bytes.push(byte);
    }
  }
  return Buffer.from(bytes);
}

/**
 * Every field of a message by number: varints as bigints, length-delimited fields as bytes;
 * fixed-width fields are skipped (none of the messages read here has one).
 */
export function decodeMessage(buffer: Uint8Array): Map<number, bigint | Uint8Array> {
  const fields = new Map<number, bigint | Uint8Array>();
  let offset = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (offset >= buffer.length) throw new Error('truncated varint');
      const byte = buffer[offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (offset < buffer.length) {
    const key = Number(readVarint());
    const fieldNumber = key >>> 3;
    switch (key & 7) {
      case 0:
        fields.set(fieldNumber, readVarint());
        break;
      case 1:
        offset += 8;
        break;
      case 2: {
        const length = Number(readVarint());
        fields.set(fieldNumber, buffer.subarray(offset, offset + length));
        offset += length;
        break;
      }
      case 5:
        offset += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
  }
  return fields;
}

function pushVarint(bytes: number[], value: bigint): void {
  while (value >= 0x80n) {
    bytes.push(Number(value & 0x7fn) | 0x80);
    value >>= 7n;
  }
  bytes.push(Number(value));
}
