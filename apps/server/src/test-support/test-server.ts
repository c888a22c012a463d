import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { afterEach } from 'vitest';
import { startServer, type RunningServer } from '../jobkeep-server.js';
import { createLogger } from '../logger.js';
import { parseServerConfig, type ServerConfig } from '../server-config.js';

export interface TestServer {
  server: RunningServer;
  client: JobStoreClient;
  dataDir: string;
}

/**
 * Starts real servers on loopback ports over temporary data directories, and stops them, their
 * clients and their files after each test.
 */
export function useTestServers(): {
  start: (settings?: Partial<ServerConfig>) => Promise<TestServer>;
  newDataDir: () => string;
} {
  const running: TestServer[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const { server, client } of running.splice(0)) {
      client.close();
      await server.shutdown();
    }
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  // Each data directory is `data` in a folder of its own, so that tests can check that
  // nothing was written beside it.
  const newDataDir = () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-server-'));
    dirs.push(root);
    return path.join(root, 'data');
  };
  return {
    newDataDir,
    async start(settings = {}) {
      const config: ServerConfig = {
        ...parseServerConfig(['node', 'jobkeep-server']),
        listen: '127.0.0.1:0',
        dataDir: settings.dataDir ?? newDataDir(),
        maxOpenDatabases: 16,
        logLevel: 'silent',
        shutdownGraceMs: 2000,
        ...settings,
      };
      const server = await startServer(config, createLogger(config.logLevel));
      const client = createJobStoreClient(server.address, { defaultDeadlineMs: 5000 });
      const started = { server, client, dataDir: config.dataDir };
      running.push(started);
      return started;
    },
  };
}
