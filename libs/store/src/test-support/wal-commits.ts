import fs from 'node:fs';

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/**
 * Transactions committed to a WAL-mode database since its log last started over, counted in
 * the `-wal` file itself: the last frame a commit writes carries the database's size in pages
 * after it, every other frame 0. Only frames with the log's current salts count, since a log
 * that started over keeps older frames behind the new ones. Nothing may checkpoint the file
 * meanwhile (a test sets `wal_autocheckpoint = 0`, or writes fewer than its 1,000 pages).
 */
export function walCommits(file: string): number {
  if (!fs.existsSync(`${file}-wal`)) return 0;
  const wal = fs.readFileSync(`${file}-wal`);
  if (wal.length < WAL_HEADER_BYTES) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salts = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = WAL_HEADER_BYTES; at + FRAME_HEADER_BYTES + pageSize <= wal.length; at += FRAME_HEADER_BYTES + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salts[0] || wal.readUInt32BE(at + 12) !== salts[1]) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}
