import path from 'node:path';
import { invalidArgument } from '@jobkeep/errors';
import type { ConnectionSecuritySettings } from '@jobkeep/client/connection-options';
import { InvalidArgumentError, type Command } from 'commander';

/**
 * Where the databases are: a running server, a data directory, or one database file. A data
 * directory's node databases may live elsewhere, as the server's --job-store-path and
 * --compute-store-path templates put them; offline, the tool must be told the same.
 */
export type AdminTarget =
  | { mode: 'live'; server: string; security: ConnectionSecuritySettings }
  | { mode: 'offline'; dataDir: string; jobStorePath?: string; computeStorePath?: string }
  | { mode: 'file'; file: string };

export const DEFAULT_SERVER = '127.0.0.1:7420';

interface TargetOptions extends ConnectionSecuritySettings {
  server?: string;
  dataDir?: string;
  file?: string;
  jobStorePath?: string;
  computeStorePath?: string;
}

const NODE_PLACEHOLDER = '{node}';

const TEMPLATE_FLAGS = { jobStorePath: '--job-store-path', computeStorePath: '--compute-store-path' } as const;

/** A node database path template, checked as the server checks it: it must contain {node}. */
export function storePathTemplate(value: string): string {
  if (!value.includes(NODE_PLACEHOLDER)) {
    throw new InvalidArgumentError(`expected a path containing ${NODE_PLACEHOLDER}, such as /srv/jobkeep/${NODE_PLACEHOLDER}-requester.db`);
  }
  return value;
}

function root(command: Command): Command {
  let current = command;
  while (current.parent !== null) current = current.parent;
  return current;
}

/**
 * The target of a command from the global options. A flag beats the environment; two targets
 * given the same way (both flags, or both variables) are a usage error rather than a guess,
 * since a guess could send a write to the wrong place. Nothing given: the server at
 * 127.0.0.1:7420.
 */
export function chooseTarget(command: Command): AdminTarget {
  const program = root(command);
  const options = program.opts<TargetOptions>();
  const fromCli = (name: keyof TargetOptions) => options[name] !== undefined && program.getOptionValueSource(name) === 'cli';
  // The templates say where a data directory's node databases are: a live server uses its own,
  // and a single file is the database. Set in the environment (perhaps for a server run from
  // the same shell), they are left unused there.
  const templates = (['jobStorePath', 'computeStorePath'] as const).filter(fromCli).map((name) => TEMPLATE_FLAGS[name]);
  if (options.file !== undefined) {
    if (fromCli('server') || fromCli('dataDir')) throw invalidArgument('--file cannot be combined with --server or --data-dir');
    if (templates.length > 0) {
      throw invalidArgument(`${templates.join(' and ')} ${templates.length === 1 ? 'says' : 'say'} where a data directory's databases are; with --file the database is the file`);
    }
    return { mode: 'file', file: path.resolve(options.file) };
  }
  const server = fromCli('server') || (options.server !== undefined && !fromCli('dataDir')) ? options.server : undefined;
  const dataDir = fromCli('dataDir') || (options.dataDir !== undefined && !fromCli('server')) ? options.dataDir : undefined;
  if (server !== undefined && dataDir !== undefined) {
    throw invalidArgument(
      fromCli('server') && fromCli('dataDir')
        ? 'give either --server (a live server) or --data-dir (offline), not both'
        : 'both JOBKEEP_SERVER and JOBKEEP_DATA_DIR are set: pass --server or --data-dir to say which to use',
    );
  }
  if (dataDir !== undefined) {
    return { mode: 'offline', dataDir: path.resolve(dataDir), jobStorePath: options.jobStorePath, computeStorePath: options.computeStorePath };
  }
  if (templates.length > 0) {
    throw invalidArgument(`${templates.join(' and ')} ${templates.length === 1 ? 'is' : 'are'} for --data-dir: a live server finds its databases by its own settings`);
  }
  const { token, tokenFile, tlsCa, tlsCert, tlsKey } = options;
  return { mode: 'live', server: server ?? DEFAULT_SERVER, security: { token, tokenFile, tlsCa, tlsCert, tlsKey } };
}

/**
 * A command's operands with the database name first: with --file the name is the file's and is
 * not given, so `keys TABLE` means `keys NAME TABLE` on that file. `operands` are what the
 * command received in order (undefined when absent); `names` what each means after NAME.
 */
export function withDatabaseName(target: AdminTarget, operands: (string | undefined)[], names: string[]): [string, ...string[]] {
  const given = operands.filter((operand): operand is string => operand !== undefined);
  if (target.mode === 'file') {
    if (given.length !== names.length) throw invalidArgument(`with --file, give ${describe(names)} (the database is the file)`);
    return [fileDatabaseName(target.file), ...given];
  }
  if (given.length !== names.length + 1) throw invalidArgument(`give ${describe(['NAME', ...names])}, or --file PATH instead of NAME`);
  return given as [string, ...string[]];
}

function describe(names: string[]): string {
  return names.length === 0 ? 'no operands' : names.join(' ');
}

/** The name a single file goes by in output: its file name without `.db`. */
export function fileDatabaseName(file: string): string {
  return path.basename(file).replace(/\.db$/, '');
}
