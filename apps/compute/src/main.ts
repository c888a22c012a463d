#!/usr/bin/env node
import { parseComputeConfig } from './compute-config.js';
import { startComputeNode } from './compute-node.js';
import { createLogger } from './logger.js';

const config = parseComputeConfig(process.argv);
const logger = createLogger(config.logLevel);

try {
  const node = await startComputeNode(config, logger);
  const stop = (exitCode: number) =>
    node.stop().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'signal received');
      void stop(0);
    });
  }
  void node.failure.then((error) => {
    logger.fatal({ err: error }, 'compute node cannot go on');
    void stop(1);
  });
} catch (error) {
  logger.fatal({ err: error }, 'compute node could not start');
  process.exitCode = 1;
}
