import { invalidArgument } from '@jobkeep/errors';
import { parseRetentionSetting, type RetentionPolicy } from '@jobkeep/store';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pairs, printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

export interface RetentionOptions {
  dryRun?: boolean;
  jobRetention?: RetentionPolicy;
  executionRetention?: RetentionPolicy;
}

/** The server's own parser, so a policy reads the same here as in jobkeep-server's flags. */
const retention = (kind: 'job' | 'execution') => (value: string) => {
  try {
    return parseRetentionSetting(kind, value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

export function retentionCommand(): Command {
  const run = adminCommand('run', "applies the retention policies now (a live server's own; offline, --job-retention and --execution-retention), or with --dry-run reports what they would do. Offline, even --dry-run is refused while a server holds the data directory: it opens the databases as the server does, which may migrate them, so use --server then", [
    'retention run --dry-run',
    'retention run node-1-requester --json',
    'retention run --data-dir ./data --job-retention COMPLETED=delete:7d,RUNNING=fail:24h',
    'retention run --data-dir ./data --execution-retention COMPLETED=delete:3d --dry-run',
  ])
    .argument('[name]', 'one node database (every node database when none)')
    .option('--dry-run', 'report what would be done, and delete or fail nothing (offline it still takes the data directory, as a write does)')
    .addOption(
      new Option('--job-retention <policy>', 'offline: retention of jobs by state, as jobkeep-server takes it').env('JOBKEEP_JOB_RETENTION').argParser(retention('job')),
    )
    .addOption(
      new Option('--execution-retention <policy>', 'offline: retention of executions by state, as jobkeep-server takes it')
        .env('JOBKEEP_EXECUTION_RETENTION')
        .argParser(retention('execution')),
    )
    .action((name: string | undefined, options: RetentionOptions, self: Command) =>
      runAction(
        self,
        async ({ target, backend, json }) => {
          const given = ['jobRetention', 'executionRetention'].filter((option) => self.getOptionValueSource(option) === 'cli');
          if (target.mode === 'live' && given.length > 0) {
            throw invalidArgument('a live server applies its own retention policies: --job-retention and --execution-retention are for --data-dir');
          }
          const dryRun = options.dryRun === true;
          const policies = { requester: options.jobRetention ?? {}, compute: options.executionRetention ?? {} };
          const outcomes = await backend.runRetention(name, { dryRun, policies });
          if (json) {
            printJson({ dryRun, outcomes });
            return;
          }
          printLine(
            table(
              ['DATABASE', dryRun ? 'WOULD FAIL' : 'FAILED', dryRun ? 'WOULD DELETE' : 'DELETED', 'HISTORY ROWS', 'BATCHES', 'REQUEST IDS'],
              outcomes.map((outcome) => [
                outcome.database,
                pairs(outcome.failed),
                pairs(outcome.deleted),
                outcome.historyRowsRemoved,
                outcome.batchesDeleted,
                outcome.requestIdsRemoved,
              ]),
            ),
          );
        },
        { needsDataDir: true },
      ),
    );
  return new Command('retention').description('retention of old records').addCommand(run);
}
