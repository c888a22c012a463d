import { describe, expect, it } from 'vitest';
import { launchServer, useNodeProcesses } from './use-node-processes.js';

describe('useNodeProcesses', () => {
  const processes = useNodeProcesses();

  it('launches the built server on a free port, reads its JSON log, and kills it after the test', async () => {
    const { server, address } = await launchServer(processes, processes.tempDir());
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await server.waitFor('jobkeep serving')).address).toBe(address);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
