import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { startServer, type RunningServer } from '../jobkeep-server.js';
import { parseServerConfig, type ServerConfig } from '../server-config.js';

export interface TestServer {
  server: RunningServer;
  client: JobStoreClient;
  config: ServerConfig;
  /** The server's data directory: `data` in a folder of the test's own. */
  dataDir: string;
  /** Resolves with the first line logged with this message, whether logged already or later. */
  logged(msg: string): Promise<Record<string, unknown>>;
  /** Shuts the server down (its client too). */
  stop(): Promise<void>;
}

/**
 * Real servers on loopback ports, over temporary data directories, whose log lines the test can
 * wait for, and that can be started again on the same address and data directory. Everything is
 * stopped and removed after each test. Each data directory is `data` in a folder of its own, so
 * that tests can check that nothing was written beside it.
 */
export function useTestServers(): { start: (settings?: Partial<ServerConfig>) => Promise<TestServer> } {
  const running: TestServer[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const started of running.splice(0)) await started.stop();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const newDataDir = () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-server-'));
    dirs.push(root);
    return path.join(root, 'data');
  };
  return {
    async start(settings = {}) {
      const config: ServerConfig = {
        ...parseServerConfig(['node', 'jobkeep-server']),
        listen: '127.0.0.1:0',
        maxOpenDatabases: 16,
        shutdownGraceMs: 2000,
        ...settings,
        dataDir: settings.dataDir ?? newDataDir(),
      };
      const lines: Record<string, unknown>[] = [];
      const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
      const destination = {
        write(text: string) {
          const line = JSON.parse(text) as Record<string, unknown>;
          lines.push(line);
          for (const waiter of waiters.filter((candidate) => candidate.msg === line.msg)) waiter.resolve(line);
        },
      };
      const server = await startServer(config, pino({ level: 'info' }, destination));
      const client = createJobStoreClient(server.address, { defaultDeadlineMs: 5000 });
      let stopped: Promise<void> | undefined;
      const started: TestServer = {
        server,
        client,
        config,
        dataDir: config.dataDir,
        logged: (msg) =>
          new Promise((resolve) => {
            const found = lines.find((line) => line.msg === msg);
            if (found !== undefined) resolve(found);
            else waiters.push({ msg, resolve });
          }),
        stop: () =>
          (stopped ??= (async () => {
            client.close();
            await server.shutdown();
          })()),
      };
      running.push(started);
      return started;
    },
  };
}
