import fs from 'node:fs';
import path from 'node:path';
import { formatGain } from '@jobkeep/store';
import { Option, type Command } from 'commander';
import { withDatabaseName } from '../admin-target.js';
import type { CopyOutcome } from '../admin-views.js';
import { printJson, printLine, table } from '../output.js';
import { progressBar } from '../progress.js';
import { adminCommand, runAction } from './command-kit.js';

/** How much smaller the copy is: 2.5 for a copy of 40% of the source. */
const gainOf = (outcome: CopyOutcome) => Number((outcome.sourceBytes / Math.max(1, outcome.copyBytes)).toFixed(2));

export function compactCommand(): Command {
  return adminCommand('compact', 'writes a compacted copy of a database (VACUUM INTO) to DEST and prints `A -> B bytes (gain=X.XXx)`', [
    'compact node-1-requester -o /backups/node-1-requester.compact.db',
    'compact --data-dir ./data node-1-compute -o small.db --json',
    'compact --file ./data/node-1-requester.db -o small.db',
  ])
    .argument('[name]', 'the database (none with --file)')
    .addOption(new Option('-o, --output <dest>', 'the file to write (replaced whole once the copy is complete)').makeOptionMandatory())
    .action((name: string | undefined, options: { output: string }, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database] = withDatabaseName(target, [name], []);
        const dest = path.resolve(options.output);
        const progress = progressBar(`compact ${database}`, 'bytes');
        let outcome: CopyOutcome;
        try {
          outcome = await backend.compact(database, dest, (done, total) => progress.update(done, total));
        } finally {
          progress.stop();
        }
        if (json) printJson({ database, dest, ...outcome, gain: gainOf(outcome) });
        else printLine(formatGain(outcome));
      }),
    );
}

export function backupCommand(): Command {
  return adminCommand('backup', 'copies databases into the directory DEST as NAME.db, consistently, while the server goes on writing', [
    'backup /backups/2024-05-01',
    'backup /backups/today node-1-requester coordination --json',
    'backup --data-dir ./data ./copy',
  ])
    .argument('<dest>', 'the directory to write NAME.db files into (created if missing)')
    .argument('[names...]', 'databases to copy (all when none)')
    .action((destArgument: string, names: string[], _options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const dest = path.resolve(destArgument);
          fs.mkdirSync(dest, { recursive: true });
          const chosen = names.length > 0 ? names : (await backend.listDatabases()).filter((info) => info.exists).map((info) => info.name);
          const copies: ({ database: string; file: string } & CopyOutcome)[] = [];
          for (const database of chosen) {
            const file = path.join(dest, `${database}.db`);
            const progress = progressBar(`backup ${database}`, 'bytes');
            try {
              copies.push({ database, file, ...(await backend.backup(database, file, (done, total) => progress.update(done, total))) });
            } finally {
              progress.stop();
            }
          }
          if (json) printJson({ dest, databases: copies });
          else printLine(table(['DATABASE', 'FILE', 'BYTES'], copies.map((copy) => [copy.database, copy.file, copy.copyBytes])));
        },
        { needsDataDir: true },
      ),
    );
}
