import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

// The built server, as `npm start` runs it; the test target builds it first.
export const SERVER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  address?: string;
  err?: { message: string };
  [field: string]: unknown;
}

export interface ServerProcess {
  child: ChildProcess;
  /** The JSON lines it has logged so far. */
  lines: LogLine[];
  /** The first line logged with this message, whether logged already or later. */
  waitFor(msg: string): Promise<LogLine>;
  /** The address it serves on, once it says so; rejects if it exits first. */
  address: Promise<string>;
  /** Its exit code. */
  exited: Promise<number | null>;
}

/**
 * Real server processes (the built `main.js`) and temporary directories for them, killed and
 * removed after each test, for what only a process shows: signals, crashes, restarts.
 */
export function useServerProcesses(): {
  launch: (args: string[], env?: Record<string, string>) => ServerProcess;
  tempDir: () => string;
} {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    tempDir() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-process-'));
      dirs.push(dir);
      return dir;
    },
    launch(args, env = {}) {
      const child = spawn(process.execPath, [SERVER_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      const lines: LogLine[] = [];
      const waiters: { msg: string; resolve: (line: LogLine) => void }[] = [];
      createInterface({ input: child.stdout! }).on('line', (text) => {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of waiters.filter((candidate) => candidate.msg === line.msg)) waiter.resolve(line);
      });
      const waitFor = (msg: string) =>
        new Promise<LogLine>((resolve) => {
          const found = lines.find((line) => line.msg === msg);
          if (found) resolve(found);
          else waiters.push({ msg, resolve });
        });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const address = Promise.race([
        waitFor('jobkeep serving').then((line) => line.address!),
        exited.then((code) => Promise.reject(new Error(`the server exited with ${code} before serving`))),
      ]);
      // A test that never asks for the address must not see an unhandled rejection when the server exits.
      address.catch(() => undefined);
      return { child, lines, waitFor, address, exited };
    },
  };
}
