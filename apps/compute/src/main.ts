#!/usr/bin/env node
import { parseComputeConfig } from './compute-config.js';
import { startComputeNode, type ComputeNode } from './compute-node.js';
import { createLogger } from './logger.js';

const config = parseComputeConfig(process.argv);
const logger = createLogger(config.logLevel);

// Listening before the node starts: a signal that arrives while it starts (even right after it
// says it is ready) stops it cleanly instead of killing it.
let node: ComputeNode | undefined;
const stopRequested = new AbortController();
const stop = (running: ComputeNode, exitCode: number) =>
  running.stop().then(
    () => process.exit(exitCode),
    (error: unknown) => {
      logger.fatal({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'signal received');
    stopRequested.abort();
    if (node !== undefined) void stop(node, 0);
  });
}

try {
  node = await startComputeNode(config, logger, { signal: stopRequested.signal });
  const started = node;
  if (stopRequested.signal.aborted) void stop(started, 0);
  void started.failure.then((error) => {
    logger.fatal({ err: error }, 'compute node cannot go on');
    void stop(started, 1);
  });
} catch (error) {
  if (stopRequested.signal.aborted) logger.info('compute node stopped before it was ready');
  else logger.fatal({ err: error }, 'compute node could not start');
  process.exitCode = stopRequested.signal.aborted ? 0 : 1;
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
}
