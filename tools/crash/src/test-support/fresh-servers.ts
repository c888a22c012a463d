import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { killServer, startServer, type ServerProcess } from '../server-process.js';

/**
 * `start()` runs a server over a new data directory; after each test every server it started is
 * killed and every directory removed.
 */
export function useFreshServers(): { start: () => Promise<{ server: ServerProcess; dir: string }> } {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await killServer(server);
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    async start() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-crash-check-'));
      dirs.push(dir);
      const server = await startServer(dir);
      servers.push(server);
      return { server, dir };
    },
  };
}
