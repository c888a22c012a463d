import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from './sqlite-connection.js';

describe('openSqlite', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-conn-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes writes durable before they are acknowledged: WAL, synchronous=FULL, foreign keys', () => {
    const db = openSqlite(path.join(dir, 'deep', 'x.db'), true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  it('syncs only at checkpoints when asked to risk the last commits on power loss', () => {
    const db = openSqlite(path.join(dir, 'x.db'), true, { durability: 'power-loss-may-lose-writes' });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    db.close();
  });

  it('does not create a missing file unless asked to', () => {
    expect(() => openSqlite(path.join(dir, 'absent.db'), false)).toThrow();
    expect(fs.existsSync(path.join(dir, 'absent.db'))).toBe(false);
  });
});
