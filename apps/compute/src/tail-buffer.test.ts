import { describe, expect, it } from 'vitest';
import { TailBuffer, utf8Tail } from './tail-buffer.js';

describe('TailBuffer', () => {
  it('keeps everything up to its limit, then only the last bytes', () => {
    const tail = new TailBuffer(8);
    tail.write(Buffer.from('abc'));
    expect(tail.text()).toBe('abc');
    for (let i = 0; i < 100; i++) tail.write(Buffer.from(`-${i}`));
    tail.write(Buffer.from('XYZ'));
    expect(tail.text()).toBe('-98-99XYZ'.slice(-8));
    expect(tail.bytesWritten).toBe(3 + 290 + 3);
    tail.write(Buffer.from('0123456789ABCDEF'));
    expect(tail.text()).toBe('89ABCDEF');
  });

  it('never starts inside a character, and never encodes past its limit even for bytes that are not UTF-8', () => {
    expect(utf8Tail(Buffer.from('aéé'), 3)).toBe('é');
    expect(utf8Tail(Buffer.from('€€'), 4)).toBe('€');
    const binary = Buffer.alloc(100, 0xff);
    const text = utf8Tail(binary, 10);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(10);
    expect(text).toBe('\ufffd'.repeat(3));
  });
});
