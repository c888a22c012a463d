import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The built jobkeep server, as `npm start` runs it; the suite's targets build it first. */
export const SERVER_MAIN = fileURLToPath(new URL('../../../apps/server/dist/main.js', import.meta.url));

/** A jobkeep server process this suite started, serving at `address`. */
export interface ServerProcess {
  child: ChildProcess;
  address: string;
  /** Its exit (code or signal), once it has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the built server on a free loopback port over `dataDir`, and resolves once it logs
 * that it serves. A server that exits first rejects, with the last lines it logged.
 */
export function startServer(dataDir: string, timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_MAIN, '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const recent: string[] = [];
  const remember = (text: string) => {
    recent.push(text);
    if (recent.length > 20) recent.shift();
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not serve within ${timeoutMs} ms; it logged:\n${recent.join('\n')}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${signal ?? code}) before serving; it logged:\n${recent.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      remember(text);
      const line = parseLine(text);
      if (line?.msg === 'jobkeep serving' && typeof line.address === 'string') {
        clearTimeout(timer);
        resolve({ child, address: line.address, exited });
      }
    });
  });
}

/** SIGKILL: the server gets no chance to finish anything, as in a power cut of the process. */
export async function killServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server.exited;
}

function parseLine(text: string): { msg?: unknown; address?: unknown } | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
