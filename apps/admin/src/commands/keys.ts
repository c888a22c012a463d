import { notFound } from '@jobkeep/errors';
import type { Command } from 'commander';
import { withDatabaseName } from '../admin-target.js';
import { printJson, printLine } from '../output.js';
import { adminCommand, positiveInteger, runAction } from './command-kit.js';

export function keysCommand(): Command {
  return adminCommand('keys', "the primary keys of a table, in key order (several key columns joined with '/')", [
    'keys node-1-requester jobs',
    'keys node-1-requester job_history --prefix j-1b --limit 20',
    'keys --file ./data/coordination.db locks --json',
  ])
    .argument('[name]', 'the database (none with --file)')
    .argument('[table]', 'the table')
    .option('--prefix <text>', 'only keys whose first column starts with this', '')
    .option('--limit <n>', 'at most this many keys (at most 10000)', positiveInteger, 1000)
    .action((name: string | undefined, tableName: string | undefined, options: { prefix: string; limit: number }, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database, table] = withDatabaseName(target, [name, tableName], ['TABLE']);
        const { keys, truncated } = await backend.listKeys(database, table!, { prefix: options.prefix, limit: options.limit });
        if (json) {
          printJson({ database, table, keys, truncated });
          return;
        }
        for (const key of keys) printLine(key);
        if (truncated) process.stderr.write(`(more keys than ${options.limit}: raise --limit or narrow --prefix)\n`);
      }),
    );
}

export function getCommand(): Command {
  return adminCommand('get', 'the rows of a table whose first key column equals KEY, as JSON', [
    'get node-1-requester jobs j-1b2c3d',
    'get node-1-requester job_history j-1b2c3d --json',
    'get --file ./data/node-1-compute.db executions e-42',
  ])
    .argument('[name]', 'the database (none with --file)')
    .argument('[table]', 'the table')
    .argument('[key]', "the key's first column")
    .action((name: string | undefined, tableName: string | undefined, keyValue: string | undefined, _options: unknown, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database, table, key] = withDatabaseName(target, [name, tableName, keyValue], ['TABLE', 'KEY']);
        const rows = await backend.getRows(database, table!, key!);
        if (rows.length === 0) throw notFound(`${database} has no row in ${table} with key ${JSON.stringify(key)}`);
        if (json) printJson({ database, table, key, rows });
        else for (const row of rows) printLine(JSON.stringify(row, null, 2));
      }),
    );
}
