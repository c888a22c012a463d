import { invalidArgument } from '@jobkeep/errors';
import type { Command } from 'commander';
import type { AdminBackend } from '../admin-backend.js';
import { fileDatabaseName } from '../admin-target.js';
import type { ProblemView } from '../admin-views.js';
import { EXIT } from '../exit-codes.js';
import { printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

export interface CheckReport {
  ok: boolean;
  databases: { database: string; problems: ProblemView[] }[];
}

/**
 * Checks the named databases, or every one. A database the catalogue names but whose file is
 * gone is a problem too.
 */
export async function checkDatabases(backend: AdminBackend, names: string[]): Promise<CheckReport> {
  const databases: CheckReport['databases'] = [];
  if (names.length === 0) {
    for (const info of await backend.listDatabases()) {
      const problems = info.exists
        ? await backend.checkDatabase(info.name)
        : [{ check: 'file', message: `the catalogue lists ${info.name}, but its file ${info.path} does not exist` }];
      databases.push({ database: info.name, problems });
    }
  } else {
    for (const name of names) databases.push({ database: name, problems: await backend.checkDatabase(name) });
  }
  return { ok: databases.every((database) => database.problems.length === 0), databases };
}

export function checkCommand(): Command {
  return adminCommand('check', "SQLite's integrity and foreign-key checks, and the store's own invariants (counters, revisions, batches)", [
    'check',
    'check node-1-requester coordination --json',
    'check --data-dir ./data',
    'check --file backup/node-1-requester.db',
  ])
    .argument('[names...]', 'databases to check (all when none; none with --file)')
    .action((names: string[], _options: unknown, self: Command) =>
      runAction(self, async ({ target, backend, json }) => {
        if (target.mode === 'file' && names.length > 0) throw invalidArgument('with --file, name no database: the file is the one checked');
        const report = await checkDatabases(backend, target.mode === 'file' ? [fileDatabaseName(target.file)] : names);
        if (json) printJson(report);
        else printCheckReport(report);
        return report.ok ? EXIT.ok : EXIT.problems;
      }),
    );
}

function printCheckReport(report: CheckReport): void {
  for (const { database, problems } of report.databases) {
    if (problems.length === 0) {
      printLine(`${database}: ok`);
      continue;
    }
    printLine(`${database}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    printLine(table(['CHECK', 'PROBLEM'], problems.map((problem) => [problem.check, problem.message])));
  }
  const failing = report.databases.filter((database) => database.problems.length > 0).length;
  printLine(
    failing === 0
      ? `${report.databases.length} database${report.databases.length === 1 ? ' is' : 's are'} consistent`
      : `${failing} of ${report.databases.length} databases have problems`,
  );
}
