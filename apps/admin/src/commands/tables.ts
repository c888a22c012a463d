import type { Command } from 'commander';
import { withDatabaseName } from '../admin-target.js';
import { bytes, fields, printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

export function tablesCommand(): Command {
  return adminCommand('tables', 'the tables of a database, with their row counts and key columns', [
    'tables node-1-requester',
    'buckets coordination --json',
    'tables --file ./data/node-1-compute.db',
  ])
    .alias('buckets')
    .argument('[name]', 'the database: coordination, NODE-requester or NODE-compute (none with --file)')
    .action((name: string | undefined, _options: unknown, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database] = withDatabaseName(target, [name], []);
        const tables = await backend.listTables(database);
        if (json) printJson({ database, tables });
        else printLine(table(['TABLE', 'ROWS', 'KEY'], tables.map((info) => [info.name, info.rows, info.keyColumns.join(', ')])));
      }),
    );
}

export function statsCommand(): Command {
  return adminCommand('stats', 'pages, freelist, rows and bytes of every table and index (dbstat), and the span of the history', [
    'stats node-1-requester',
    'stats coordination --json',
    'stats --file ./data/node-1-compute.db',
  ])
    .argument('[name]', 'the database (none with --file)')
    .action((name: string | undefined, _options: unknown, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        const [database] = withDatabaseName(target, [name], []);
        const stats = await backend.databaseStats(database);
        if (json) {
          printJson({ database, ...stats });
          return;
        }
        const history = stats.history;
        printLine(
          fields([
            ['Database', database],
            ['Path', stats.path],
            ['File', bytes(stats.fileBytes)],
            ['Write-ahead log', bytes(stats.walBytes)],
            ['Page size', stats.pageSize],
            ['Pages', stats.pageCount],
            ['Free pages', stats.freelistCount],
            ...(history === null
              ? []
              : ([
                  ['History rows', history.rows],
                  ['Revisions', history.rows === 0 ? null : `${history.firstRevision} .. ${history.lastRevision}`],
                  ['History from', history.firstTime],
                  ['History to', history.lastTime],
                  ['Compacted up to', history.compactedRevision],
                ] as [string, string | number | null][])),
          ]),
        );
        printLine(
          table(
            ['NAME', 'TYPE', 'TABLE', 'ROWS', 'PAGES', 'BYTES'],
            stats.objects.map((object) => [object.name, object.type, object.table, object.rows, object.pages, object.bytes]),
          ),
        );
      }),
    );
}
