import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI; the test target builds it first. */
export const ADMIN_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one jobkeep-admin command as a process, without blocking this one (so that the test can
 * keep writing through gRPC meanwhile). JOBKEEP_* variables of the environment running the
 * tests are dropped: each test says where the databases are.
 */
export function runAdmin(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('JOBKEEP_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ADMIN_MAIN, ...args], {
      env: { ...env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Runs a command that must exit 0 (`--json` is added), and parses what it printed. */
export async function adminJson<T = unknown>(args: string[]): Promise<T> {
  const result = await runAdmin([...args, '--json']);
  if (result.code !== 0) throw new Error(`jobkeep-admin ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Where a command goes: `--server ADDRESS` or `--data-dir DIR`. */
export type Target = string[];
