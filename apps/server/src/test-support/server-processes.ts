import { SERVER_MAIN, useNodeProcesses, type LogLine, type NodeProcess } from '@jobkeep/testing';

export { SERVER_MAIN };
export type { LogLine };

export interface ServerProcess extends NodeProcess {
  /** The address it serves on, once it says so; rejects if it exits first. */
  address: Promise<string>;
}

/**
 * Real server processes (the built `main.js`) and temporary directories for them, killed and
 * removed after each test, for what only a process shows: signals, crashes, restarts.
 */
export function useServerProcesses(): {
  launch: (args: string[], env?: Record<string, string>) => ServerProcess;
  tempDir: () => string;
} {
  const processes = useNodeProcesses();
  return {
    tempDir: processes.tempDir,
    launch(args, env = {}) {
      const server = processes.launch(SERVER_MAIN, args, env);
      const address = Promise.race([
        server.waitFor('jobkeep serving').then((line) => line.address!),
        server.exited.then((code) => Promise.reject(new Error(`the server exited with ${code} before serving`))),
      ]);
      // A test that never asks for the address must not see an unhandled rejection when the server exits.
      address.catch(() => undefined);
      return { ...server, address };
    },
  };
}
