#!/usr/bin/env node
import { startServer } from './jobkeep-server.js';
import { createLogger } from './logger.js';
import { parseServerConfig } from './server-config.js';

const config = parseServerConfig(process.argv);
const logger = createLogger(config.logLevel);

try {
  const server = await startServer(config, logger);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'signal received');
      server.shutdown().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
} catch (error) {
  logger.fatal({ err: error }, 'jobkeep could not start');
  process.exitCode = 1;
}
