import { spawn } from 'node:child_process';
import { REQUESTER_MAIN, type NodeProcess, type useNodeProcesses } from '@jobkeep/testing';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one requester command as a process, without blocking this one (the test's fake compute
 * nodes keep working meanwhile).
 */
export function runRequester(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REQUESTER_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed and print JSON (--json goes right after its name); returns what it printed. */
export async function requesterJson<T>([command, ...args]: string[]): Promise<T> {
  const result = await runRequester([command!, '--json', ...args]);
  if (result.code !== 0) throw new Error(`jobkeep-requester ${command} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** A requester daemon process for `nodeId`, quick to notice offline nodes. */
export function launchDaemon(
  processes: ReturnType<typeof useNodeProcesses>,
  server: string,
  nodeId: string,
  args: string[] = [],
): NodeProcess {
  return processes.launch(REQUESTER_MAIN, ['daemon', '--server', server, '--node-id', nodeId, '--node-check-interval-ms', '200', ...args]);
}
