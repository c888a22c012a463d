import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { SERVER_MAIN, spawnNodeProcess, type NodeProcess } from './node-process.js';

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
