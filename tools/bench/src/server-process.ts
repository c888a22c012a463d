import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER_MAIN = fileURLToPath(new URL('../../../apps/server/dist/main.js', import.meta.url));
const ECHO_MAIN = fileURLToPath(new URL('./echo-server.js', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  address: string;
  stop(): Promise<void>;
}

/** Starts a node script that logs `{msg: readyMessage, address}` once it serves, and waits for it. */
export function startServerProcess(script: string, args: string[], readyMessage: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before serving`)));
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as { msg?: string; address?: string };
      if (line.msg === readyMessage && line.address !== undefined) {
        resolve({
          child,
          address: line.address,
          stop: () =>
            new Promise((done) => {
              child.removeAllListeners('exit');
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

/** The built jobkeep server on `dataDir`, listening on a free port of 127.0.0.1, with its defaults but for `flags`. */
export function startJobkeep(dataDir: string, flags: string[] = []): Promise<ServerProcess> {
  return startServerProcess(SERVER_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...flags], 'jobkeep serving');
}

/**
 * Runs `work` with the built jobkeep server (given `jobkeepArgs` besides its address and data
 * directory) on a fresh data directory and the echo baseline, each in its own process, and stops
 * both (and removes the directory) afterwards.
 */
export async function withJobkeepAndEcho<T>(
  work: (servers: { jobkeep: ServerProcess; echo: ServerProcess }) => Promise<T>,
  jobkeepArgs: string[] = [],
): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-'));
  const started: ServerProcess[] = [];
  try {
    const jobkeep = await startJobkeep(dataDir, jobkeepArgs);
    started.push(jobkeep);
    const echo = await startServerProcess(ECHO_MAIN, ['127.0.0.1:0'], 'echo serving');
    started.push(echo);
    return await work({ jobkeep, echo });
  } finally {
    for (const server of started) await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
