import { CONNECTION_SECURITY_OPTIONS } from '@jobkeep/client/connection-options';
import { Command, Option } from 'commander';
import { storePathTemplate } from './admin-target.js';
import { checkCommand } from './commands/check.js';
import { reportError } from './commands/command-kit.js';
import { backupCommand, compactCommand } from './commands/copies.js';
import { historyCommand, locksCommand, nodesCommand } from './commands/coordination.js';
import { countersCommand, databasesCommand } from './commands/databases.js';
import { drainCommand, retireCommand } from './commands/drain.js';
import { getCommand, keysCommand } from './commands/keys.js';
import { retentionCommand } from './commands/retention.js';
import { statsCommand, tablesCommand } from './commands/tables.js';
import { tokensCommand } from './commands/tokens.js';
import { exportCommand, importCommand } from './commands/transfer.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';

const TARGETS_HELP = `
Where the databases are:
  --server HOST:PORT (JOBKEEP_SERVER)   a running server, through jobkeep.v1.AdminService
  --data-dir DIR (JOBKEEP_DATA_DIR)     offline, on the files; writes are refused while a live
                                        server holds DIR
  --file PATH                           offline, one database file (check, tables, stats, keys,
                                        get, compact, export); NAME is then not given
  none of them                          the server at 127.0.0.1:7420

  Offline, give --job-store-path / --compute-store-path (JOBKEEP_JOB_STORE_PATH /
  JOBKEEP_COMPUTE_STORE_PATH) exactly as the server was given them, if it was: they say where
  the node databases are when not in DIR, and every offline read and write uses them.`;

/**
 * Commander's parse errors (unknown option, missing argument) in the tool's own format and with
 * exit code 2, for every command and subcommand.
 */
function configure(command: Command): void {
  command
    .exitOverride()
    .showHelpAfterError('(run with --help for usage and examples)')
    .configureOutput({ outputError: (text, write) => write(`jobkeep-admin: INVALID_ARGUMENT: ${text.replace(/^error: /, '')}`) });
  for (const sub of command.commands) configure(sub);
}

/** The command line of jobkeep-admin. */
export function adminProgram(): Command {
  const program = new Command('jobkeep-admin')
    .description('inspect, check, copy, export, import, drain and retire jobkeep databases, and manage access tokens, live or offline')
    .addOption(new Option('--server <host:port>', 'a running jobkeep server (default 127.0.0.1:7420)').env('JOBKEEP_SERVER'))
    .addOption(new Option('--data-dir <dir>', 'work offline on the databases of this data directory').env('JOBKEEP_DATA_DIR'))
    .addOption(new Option('--file <path>', 'work offline on this one database file'))
    .addOption(
      new Option('--job-store-path <template>', "offline: path of requester databases, as the server's flag (must contain {node}); default DIR/{node}-requester.db")
        .env('JOBKEEP_JOB_STORE_PATH')
        .argParser(storePathTemplate),
    )
    .addOption(
      new Option('--compute-store-path <template>', "offline: path of compute databases, as the server's flag (must contain {node}); default DIR/{node}-compute.db")
        .env('JOBKEEP_COMPUTE_STORE_PATH')
        .argParser(storePathTemplate),
    )
    .addHelpText('after', `${TARGETS_HELP}\n${EXIT_CODES_HELP}\n`);
  for (const { flags, description, env } of CONNECTION_SECURITY_OPTIONS) program.addOption(new Option(flags, `live: ${description}`).env(env));
  for (const command of [
    checkCommand(),
    tablesCommand(),
    statsCommand(),
    keysCommand(),
    getCommand(),
    compactCommand(),
    backupCommand(),
    databasesCommand(),
    countersCommand(),
    nodesCommand(),
    locksCommand(),
    historyCommand(),
    retentionCommand(),
    exportCommand(),
    importCommand(),
    drainCommand(),
    retireCommand(),
    tokensCommand(),
  ]) {
    program.addCommand(command);
  }
  configure(program);
  return program;
}

/** Runs the command line, and sets the exit code for parse errors (actions set their own). */
export async function runAdmin(argv: readonly string[]): Promise<void> {
  const program = adminProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const commander = error as { code?: string; exitCode?: number };
    if (commander.code === 'commander.helpDisplayed' || commander.code === 'commander.version') {
      process.exitCode = EXIT.ok;
    } else if (typeof commander.code === 'string' && commander.code.startsWith('commander.')) {
      process.exitCode = EXIT.usage;
    } else {
      reportError(error);
    }
  }
}
