import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** The built jobkeep server, as `npm start` runs it; a test target that launches it builds it first. */
export const SERVER_MAIN = fileURLToPath(new URL('../../../apps/server/dist/main.js', import.meta.url));

/** One line of a process's JSON log (pino's format). */
export interface LogLine {
  level: number;
  msg: string;
  /** Where a server or agent says it serves. */
  address?: string;
  /** An error, as pino logs it. */
  err?: { message: string };
  [field: string]: unknown;
}

export interface NodeProcess {
  child: ChildProcess;
  /** The JSON lines it has logged on stdout so far. */
  lines: LogLine[];
  /** The first line logged with this message (and these fields), whether logged already or later. */
  waitFor(msg: string, fields?: Record<string, unknown>): Promise<LogLine>;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Starts a built app (`main`) as a Node process whose stdout is read as JSON log lines. The
 * caller stops it; see useNodeProcesses for tests, which does that after each test.
 */
export function spawnNodeProcess(main: string, args: string[], env: Record<string, string> = {}): NodeProcess {
  const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: LogLine[] = [];
  const waiters: { matches: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = parseLine(text);
    lines.push(line);
    for (const waiter of waiters.filter((candidate) => candidate.matches(line))) waiter.resolve(line);
  });
  const waitFor = (msg: string, fields: Record<string, unknown> = {}) =>
    new Promise<LogLine>((resolve) => {
      const matches = (line: LogLine) => line.msg === msg && Object.entries(fields).every(([key, value]) => line[key] === value);
      const found = lines.find(matches);
      if (found) resolve(found);
      else waiters.push({ matches, resolve });
    });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, waitFor, exited };
}

/**
 * Real Node processes (built `main.js` files of jobkeep's apps) and temporary directories,
 * killed (SIGKILL) and removed after each test: for what only a process shows, such as signals,
 * crashes and restarts. A stdout line that is not JSON is kept as a line with `msg` set to it.
 */
export function useNodeProcesses(): {
  launch: (main: string, args: string[], env?: Record<string, string>) => NodeProcess;
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
    launch(main, args, env = {}) {
      const launched = spawnNodeProcess(main, args, env);
      children.push(launched.child);
      return launched;
    },
  };
}

function parseLine(text: string): LogLine {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as LogLine).msg === 'string') return parsed as LogLine;
  } catch {
    // Not JSON: kept as it is.
  }
  return { level: 30, msg: text };
}

/**
 * Launches the built server on a free loopback port over `dataDir`; resolves to the process and
 * the address it serves on, or rejects if it exits first.
 */
export async function launchServer(
  processes: ReturnType<typeof useNodeProcesses>,
  dataDir: string,
  args: string[] = [],
): Promise<{ server: NodeProcess; address: string }> {
  const server = processes.launch(SERVER_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args]);
  const address = await Promise.race([
    server.waitFor('jobkeep serving').then((line) => line.address!),
    server.exited.then((code) => Promise.reject(new Error(`the server exited with ${code} before serving`))),
  ]);
  return { server, address };
}
