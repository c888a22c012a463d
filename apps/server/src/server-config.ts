import { Command, InvalidArgumentError, Option } from 'commander';

export interface ServerConfig {
  /** host:port to listen on; port 0 picks a free port. */
  listen: string;
  dataDir: string;
  jobStorePath: string | undefined;
  computeStorePath: string | undefined;
  maxOpenDatabases: number;
  logLevel: string;
  /** How long a shutdown waits for in-flight calls before cancelling them, in milliseconds. */
  shutdownGraceMs: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

function listenAddress(value: string): string {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) > 65535) throw new InvalidArgumentError('expected host:port, such as 127.0.0.1:7420');
  return value;
}

/** The command line of jobkeep-server; every setting is a flag and an environment variable. */
export function serverCommand(): Command {
  return new Command('jobkeep-server')
    .description('jobkeep: gRPC storage for cluster node agents, over per-node SQLite files')
    .addOption(new Option('--listen <host:port>', 'address to serve gRPC on').env('JOBKEEP_LISTEN').default('127.0.0.1:7420').argParser(listenAddress))
    .addOption(new Option('--data-dir <dir>', 'directory of coordination.db and the node databases').env('JOBKEEP_DATA_DIR').default('./data'))
    .addOption(new Option('--job-store-path <template>', 'path of requester databases; must contain {node}').env('JOBKEEP_JOB_STORE_PATH'))
    .addOption(new Option('--compute-store-path <template>', 'path of compute databases; must contain {node}').env('JOBKEEP_COMPUTE_STORE_PATH'))
    .addOption(
      new Option('--max-open-databases <n>', 'node databases kept open at once (least recently used closed first)')
        .env('JOBKEEP_MAX_OPEN_DATABASES')
        .default(256)
        .argParser(positiveInteger),
    )
    .addOption(new Option('--log-level <level>', 'log level').env('JOBKEEP_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(
      new Option('--shutdown-grace-ms <ms>', 'on SIGINT/SIGTERM, how long in-flight calls may finish before they are cancelled')
        .env('JOBKEEP_SHUTDOWN_GRACE_MS')
        .default(10_000)
        .argParser(positiveInteger),
    )
    .showHelpAfterError();
}

/** Parses argv (as process.argv: node, script, args...) and the environment into settings. */
export function parseServerConfig(argv: readonly string[]): ServerConfig {
  const options = serverCommand().parse(argv).opts<{
    listen: string;
    dataDir: string;
    jobStorePath?: string;
    computeStorePath?: string;
    maxOpenDatabases: number;
    logLevel: string;
    shutdownGraceMs: number;
  }>();
  return {
    listen: options.listen,
    dataDir: options.dataDir,
    jobStorePath: options.jobStorePath,
    computeStorePath: options.computeStorePath,
    maxOpenDatabases: options.maxOpenDatabases,
    logLevel: options.logLevel,
    shutdownGraceMs: options.shutdownGraceMs,
  };
}
