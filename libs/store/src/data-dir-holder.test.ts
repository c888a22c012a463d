import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdDataDir, readDataDirHolder, type HeldDataDir } from './data-dir-holder.js';

const dirs: string[] = [];
const holds: HeldDataDir[] = [];
afterEach(() => {
  for (const hold of holds.splice(0)) hold.release();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-holder-'));
  dirs.push(dir);
  return dir;
}

function hold(dir: string, role: 'server' | 'admin', address?: string): HeldDataDir {
  const held = holdDataDir(dir, { role, address });
  holds.push(held);
  return held;
}

describe('holding a data directory', () => {
  it('lets one holder at a time write, and names it to the next', () => {
    const dir = tempDir();
    const server = hold(dir, 'server');
    server.setAddress('127.0.0.1:7420');

    expect(() => holdDataDir(dir, { role: 'admin' })).toThrow(
      expect.objectContaining({
        code: 'FAILED_PRECONDITION',
        message: expect.stringContaining(`a live jobkeep server (pid ${process.pid}, listening on 127.0.0.1:7420)`),
      }),
    );
    expect(readDataDirHolder(dir)).toMatchObject({ pid: process.pid, role: 'server', address: '127.0.0.1:7420' });

    server.release();
    expect(readDataDirHolder(dir)).toBeUndefined();
    hold(dir, 'admin');
    expect(readDataDirHolder(dir)).toMatchObject({ role: 'admin' });
  });

  it('is free again the instant its holder is killed, without waiting for anything to expire', async () => {
    const dir = tempDir();
    const script = `
      const Database = require('better-sqlite3');
      const lock = new Database(${JSON.stringify(path.join(dir, 'jobkeep.lock'))}, { timeout: 0 });
      lock.exec('BEGIN IMMEDIATE');
      console.log('held');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(readDataDirHolder(dir)).toBeDefined();
    expect(() => holdDataDir(dir, { role: 'admin' })).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION' }));

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(readDataDirHolder(dir)).toBeUndefined();
    hold(dir, 'admin');
  });

  it('creates the directory, and reading an unheld one changes nothing', () => {
    const dir = path.join(tempDir(), 'new');
    expect(readDataDirHolder(dir)).toBeUndefined();
    expect(fs.existsSync(dir)).toBe(false);
    hold(dir, 'server').release();
    expect(fs.readdirSync(dir)).toEqual(['jobkeep.lock']);
  });
});
