import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_MAIN, spawnNodeProcess, type NodeProcess } from './node-process.js';

/** The built agents, as their `bin` entries run them. */
export const REQUESTER_MAIN = fileURLToPath(new URL('../../../apps/requester/dist/main.js', import.meta.url));
export const COMPUTE_MAIN = fileURLToPath(new URL('../../../apps/compute/dist/main.js', import.meta.url));
export const ADMIN_MAIN = fileURLToPath(new URL('../../../apps/admin/dist/main.js', import.meta.url));

export interface ComputeNodeSettings {
  id: string;
  slots: number;
  labels?: Record<string, string>;
}

/**
 * A whole jobkeep cluster on this machine, each part its own process: a server over a data
 * directory of its own, requester daemons and compute agents. For the end-to-end tests and the
 * demo; `stop` ends every process it started (by PID) and removes the directory.
 */
export class LocalCluster {
  readonly processes = new Map<string, NodeProcess>();

  private constructor(
    readonly dir: string,
    readonly server: NodeProcess,
    readonly address: string,
  ) {}

  /** Starts a server on a free loopback port over a new temporary data directory. */
  static async start(serverArgs: string[] = []): Promise<LocalCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-cluster-'));
    const server = spawnNodeProcess(SERVER_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), ...serverArgs]);
    try {
      const address = await Promise.race([
        server.waitFor('jobkeep serving').then((line) => line.address!),
        server.exited.then((code) => Promise.reject(new Error(`the server exited with ${code} before serving`))),
      ]);
      return new LocalCluster(dir, server, address);
    } catch (error) {
      server.child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Starts (or restarts) the requester daemon of node `id`; resolves once it says it is ready. */
  async startRequester(id: string, args: string[] = []): Promise<NodeProcess> {
    return this.launch(id, REQUESTER_MAIN, ['daemon', '--server', this.address, '--node-id', id, ...args], 'requester ready');
  }

  /** Starts (or restarts) the compute agent of a node; resolves once it says it is ready. */
  async startCompute(node: ComputeNodeSettings, args: string[] = []): Promise<NodeProcess> {
    const labels = Object.entries(node.labels ?? {}).map(([key, value]) => `${key}=${value}`).join(',');
    const labelArgs = labels === '' ? [] : ['--labels', labels];
    return this.launch(node.id, COMPUTE_MAIN, ['--server', this.address, '--node-id', node.id, '--slots', String(node.slots), ...labelArgs, ...args], 'compute node ready');
  }

  /** Runs a requester command (submit, status, list, cancel, logs) to its end; its stdout and exit code. */
  async requesterCommand(id: string, args: string[]): Promise<{ stdout: string; code: number | null }> {
    const command = spawnNodeProcess(REQUESTER_MAIN, [args[0]!, '--server', this.address, '--node-id', id, ...args.slice(1)]);
    const code = await command.exited;
    return { stdout: command.lines.map((line) => line.msg).join('\n'), code };
  }

  /** Sends `signal` to a process this cluster started and waits for it to end. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const process = this.processes.get(name);
    if (process === undefined) throw new Error(`no process named ${name}`);
    this.processes.delete(name);
    if (process.child.exitCode === null && process.child.signalCode === null) {
      process.child.kill(signal);
      await process.exited;
    }
  }

  /** Stops the agents (SIGTERM, then SIGKILL after `graceMs`), then the server, then removes the data. */
  async stop(graceMs = 5000): Promise<void> {
    const stopping = [...this.processes.keys()].map((name) => this.stopOne(name, graceMs));
    await Promise.all(stopping);
    await stopGracefully(this.server, graceMs);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async stopOne(name: string, graceMs: number): Promise<void> {
    const process = this.processes.get(name)!;
    this.processes.delete(name);
    await stopGracefully(process, graceMs);
  }

  private async launch(name: string, main: string, args: string[], ready: string): Promise<NodeProcess> {
    const launched = spawnNodeProcess(main, args);
    this.processes.set(name, launched);
    await Promise.race([
      launched.waitFor(ready),
      launched.exited.then((code) => Promise.reject(new Error(`${name} exited with ${code} before it was ready`))),
    ]);
    return launched;
  }
}

async function stopGracefully(process: NodeProcess, graceMs: number): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill('SIGTERM');
  const timer = setTimeout(() => process.child.kill('SIGKILL'), graceMs);
  await process.exited;
  clearTimeout(timer);
}
