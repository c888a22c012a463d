import type { Command } from 'commander';
import type { DatabaseView } from '../admin-views.js';
import { bytes, pairs, printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

export function printDatabases(databases: DatabaseView[]): void {
  printLine(
    table(
      ['NAME', 'KIND', 'LIFECYCLE', 'SIZE', 'COUNTS', 'CREATED'],
      databases.map((info) => [info.name, info.kind, info.lifecycle, info.exists ? bytes(info.sizeBytes) : 'missing', pairs(info.counts), info.createTime]),
    ),
  );
}

export function databasesCommand(): Command {
  return adminCommand('databases', 'every database: coordination, then the node databases of the catalogue, with lifecycle, size and counts', [
    'databases',
    'databases --server 10.0.0.5:7420 --json',
    'databases --data-dir /var/lib/jobkeep',
  ]).action((_options: unknown, self: Command) =>
    runAction(
      self,
      async ({ backend, json }) => {
        const databases = await backend.listDatabases();
        if (json) printJson({ databases });
        else printDatabases(databases);
      },
      { needsDataDir: true },
    ),
  );
}

export function countersCommand(): Command {
  return adminCommand('counters', 'records per state in every node database, from the counters the store keeps with every change', [
    'counters',
    'counters --data-dir ./data --json',
  ]).action((_options: unknown, self: Command) =>
    runAction(
      self,
      async ({ backend, json }) => {
        const databases = (await backend.listDatabases())
          .filter((info) => info.kind !== 'coordination' && info.exists)
          .map((info) => ({ database: info.name, kind: info.kind, counts: info.counts }));
        if (json) {
          printJson({ databases });
          return;
        }
        const rows = databases.flatMap(({ database, counts }) => Object.entries(counts).map(([state, count]) => [database, state, count]));
        printLine(table(['DATABASE', 'STATE', 'COUNT'], rows));
      },
      { needsDataDir: true },
    ),
  );
}
