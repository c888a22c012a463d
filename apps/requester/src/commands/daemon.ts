import { Command } from 'commander';
import { createLogger } from '../logger.js';
import { RequesterDaemon } from '../requester-daemon.js';
import { addDaemonOptions, daemonConfig } from '../requester-config.js';

export function daemonCommand(): Command {
  return addDaemonOptions(new Command('daemon'))
    .description('run the requester node: place its jobs on compute nodes and follow them to the end')
    .action(async (_options: unknown, self: Command) => {
      const config = daemonConfig(self);
      const logger = createLogger(config.logLevel, config.nodeId);
      const daemon = new RequesterDaemon(config, logger);
      // From the start: a signal during recovery stops cleanly too.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          logger.info({ signal }, 'signal received');
          daemon.stop().then(
            () => process.exit(0),
            (error: unknown) => {
              logger.fatal({ err: error }, 'stop failed');
              process.exit(1);
            },
          );
        });
      }
      try {
        await daemon.start();
      } catch (error) {
        logger.fatal({ err: error }, 'requester could not start');
        process.exit(1);
      }
    });
}
