import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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

function parseLine(text: string): LogLine {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as LogLine).msg === 'string') return parsed as LogLine;
  } catch {
    // Not JSON: kept as it is.
  }
  return { level: 30, msg: text };
}
