import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEtcdClient } from './etcd-client.js';

/** Where Debian's etcd-server package installs etcd. */
const ETCD_BINARY = process.env.JOBKEEP_BENCH_ETCD ?? '/usr/bin/etcd';

export interface EtcdProcess {
  child: ChildProcess;
  address: string;
  version: string;
}

/**
 * Runs `work` with a single-member etcd on 127.0.0.1 (its own temporary data directory, free
 * client and peer ports, its defaults otherwise: every write is in the WAL and fsynced before
 * the reply), then stops it by its PID and removes the directory. When etcd is not installed,
 * `work` runs without it.
 */
export async function withEtcd<T>(work: (etcd: EtcdProcess | undefined) => Promise<T>): Promise<T> {
  if (!fs.existsSync(ETCD_BINARY)) return work(undefined);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD_BINARY,
    [
      '--name=bench',
      `--data-dir=${path.join(dataDir, 'member')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      '--logger=zap',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const address = `127.0.0.1:${clientPort}`;
    await waitUntilServing(address, exited);
    return await work({ child, address, version: etcdVersion() });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A port free now on 127.0.0.1 (etcd takes its ports as flags, not port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Puts a key until etcd answers: it serves once it has elected itself leader. */
async function waitUntilServing(address: string, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const client = createEtcdClient(address);
  try {
    for (let attempt = 0; ; attempt++) {
      if (gone) throw new Error('etcd exited before serving');
      try {
        await client.put('/bench/ready', Buffer.from('1'));
        return;
      } catch (error) {
        if (attempt >= 100) throw error;
        await sleep(100);
      }
    }
  } finally {
    client.close();
  }
}

function etcdVersion(): string {
  return execFileSync(ETCD_BINARY, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.replace('etcd Version: ', '');
}
