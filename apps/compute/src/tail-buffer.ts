/** How much of each output stream a run result keeps: its last 4 KiB. */
export const OUTPUT_TAIL_BYTES = 4096;

/**
 * The last `limit` bytes written to it, however much is written: a run's output may be
 * gigabytes, and only its end says why it failed. Memory stays within about twice the limit.
 */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private total = 0;

  constructor(private readonly limit = OUTPUT_TAIL_BYTES) {}

  write(chunk: Buffer): void {
    this.total += chunk.length;
    if (chunk.length >= this.limit) {
      this.chunks = [chunk.subarray(chunk.length - this.limit)];
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limit) this.compact();
  }

  /** Every byte written, kept or not. */
  get bytesWritten(): number {
    return this.total;
  }

  /** The kept bytes as UTF-8 text of at most `limit` bytes, never starting inside a character. */
  text(): string {
    this.compact();
    return utf8Tail(Buffer.concat(this.chunks), this.limit);
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.limit ? all.subarray(all.length - this.limit) : all;
    this.chunks = [kept];
    this.size = kept.length;
  }
}

/**
 * The end of `bytes` as text whose UTF-8 encoding fits in `limit` bytes. Bytes that are not
 * UTF-8 decode to U+FFFD, three bytes each, so the decoded text is cut again to stay in bounds.
 */
export function utf8Tail(bytes: Buffer, limit: number): string {
  let text = decodeFromCharacterStart(bytes.length > limit ? bytes.subarray(bytes.length - limit) : bytes);
  let encoded = Buffer.from(text, 'utf8');
  while (encoded.length > limit) {
    text = decodeFromCharacterStart(encoded.subarray(encoded.length - limit));
    encoded = Buffer.from(text, 'utf8');
  }
  return text;
}

/** Skips continuation bytes (10xxxxxx) at the start: what is left of a character cut in two. */
function decodeFromCharacterStart(bytes: Buffer): string {
  let start = 0;
  while (start < bytes.length && start < 3 && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}
