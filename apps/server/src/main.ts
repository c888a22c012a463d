#!/usr/bin/env node
import { startServer, type RunningServer } from './jobkeep-server.js';
import { createLogger } from './logger.js';
import { parseServerConfig } from './server-config.js';

const config = parseServerConfig(process.argv);
const logger = createLogger(config.logLevel);

// Listening before the server starts: a signal that arrives while it starts (even right after
// it says it serves) shuts it down gracefully instead of killing it.
let running: RunningServer | undefined;
let stopRequested = false;
const shutdownAndExit = (server: RunningServer) =>
  server.shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.fatal({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'signal received');
    stopRequested = true;
    if (running !== undefined) void shutdownAndExit(running);
  });
}

try {
  running = await startServer(config, logger);
  if (stopRequested) void shutdownAndExit(running);
} catch (error) {
  logger.fatal({ err: error }, 'jobkeep could not start');
  process.exitCode = 1;
  // Nothing is left to wait for a signal.
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
}
