import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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
