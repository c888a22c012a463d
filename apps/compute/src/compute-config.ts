import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONNECTION_SECURITY_OPTIONS, connectionSecurity, type ConnectionSecurity, type ConnectionSecuritySettings } from '@jobkeep/client';

export interface ComputeConfig {
  /** The jobkeep server, host:port. */
  server: string;
  /** Token and TLS credentials for the server, files already read. */
  security: ConnectionSecurity;
  /** This node's id: its compute database is `{nodeId}-compute.db`. */
  nodeId: string;
  /** What the registry says the node can be reached at (host:port); informational, the agent serves nothing. */
  address: string;
  /** How many executions run at once. */
  slots: number;
  /** The node's labels, matched against jobs' constraints. */
  labels: Record<string, string>;
  /** The TTL of the lease the node registers under: how soon a dead node is seen offline. */
  leaseTtlSeconds: number;
  /** Variables of the agent's own environment that exec runs see. */
  envAllow: string[];
  /** How long a run's process group has after SIGTERM before it gets SIGKILL, in milliseconds. */
  killGraceMs: number;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function integerIn(min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return parsed;
  };
}

function hostPort(value: string): string {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw new InvalidArgumentError('expected host:port, such as 127.0.0.1:7420');
  }
  return value;
}

function nodeId(value: string): string {
  if (!NODE_ID.test(value) || value.includes('..')) {
    throw new InvalidArgumentError("expected letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128, without \"..\"");
  }
  return value;
}

/** `k=v,k2=v2`; an empty string is no labels. */
export function parseLabels(value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of value.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new InvalidArgumentError(`expected key=value pairs separated by commas, not ${JSON.stringify(pair)}`);
    labels[pair.slice(0, equals).trim()] = pair.slice(equals + 1).trim();
  }
  return labels;
}

function envNames(value: string): string[] {
  const names = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const bad = names.find((name) => !ENV_NAME.test(name));
  if (bad !== undefined) throw new InvalidArgumentError(`${JSON.stringify(bad)} is not an environment variable name`);
  return [...new Set(names)];
}

/** The host name when it makes a valid registry address, else loopback; the port is nominal. */
function defaultAddress(): string {
  const host = os.hostname();
  return /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host) ? `${host}:7421` : '127.0.0.1:7421';
}

/** The command line of jobkeep-compute. Every setting is a flag and an environment variable; a flag beats the environment. */
export function computeCommand(): Command {
  const command = new Command('jobkeep-compute')
    .description('jobkeep compute node agent: bids for executions in its compute database and runs them')
    .addOption(new Option('--server <host:port>', 'the jobkeep server').env('JOBKEEP_SERVER').default('127.0.0.1:7420').argParser(hostPort))
    .addOption(new Option('--node-id <id>', 'this node\'s id (names its compute database)').env('JOBKEEP_NODE_ID').argParser(nodeId).makeOptionMandatory())
    .addOption(
      new Option('--address <host:port>', 'where the registry says this node is; informational, the agent listens on nothing')
        .env('JOBKEEP_ADDRESS')
        .default(defaultAddress())
        .argParser(hostPort),
    )
    .addOption(new Option('--slots <n>', 'executions run at once').env('JOBKEEP_SLOTS').default(os.availableParallelism()).argParser(integerIn(1, 10_000)))
    .addOption(new Option('--labels <k=v,...>', 'labels that jobs\' constraints are matched against').env('JOBKEEP_LABELS').default({}, 'none').argParser(parseLabels))
    .addOption(
      new Option('--lease-ttl-seconds <s>', 'TTL of the lease the node registers under; a node that stops renewing it goes offline after this long')
        .env('JOBKEEP_LEASE_TTL_SECONDS')
        .default(10)
        .argParser(integerIn(2, 3600)),
    )
    .addOption(
      new Option('--env-allow <names>', 'variables of the agent\'s environment passed to exec runs, comma-separated')
        .env('JOBKEEP_ENV_ALLOW')
        .default(['PATH', 'HOME', 'LANG'], 'PATH,HOME,LANG')
        .argParser(envNames),
    )
    .addOption(
      new Option('--kill-grace-ms <ms>', 'how long a stopped run\'s processes have after SIGTERM before SIGKILL')
        .env('JOBKEEP_KILL_GRACE_MS')
        .default(5000)
        .argParser(integerIn(0, 600_000)),
    )
    .addOption(new Option('--log-level <level>', 'log level').env('JOBKEEP_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .showHelpAfterError();
  for (const { flags, description, env } of CONNECTION_SECURITY_OPTIONS) command.addOption(new Option(flags, description).env(env));
  return command;
}

/**
 * Parses argv (as process.argv: node, script, args...) and the environment. On bad settings the
 * command prints why and exits, unless it was given `exitOverride()`.
 */
export function parseComputeConfig(argv: readonly string[], command = computeCommand()): ComputeConfig {
  command.parse(argv);
  const { token, tokenFile, tlsCa, tlsCert, tlsKey, ...config } = command.opts<Omit<ComputeConfig, 'security'> & ConnectionSecuritySettings>();
  try {
    return { ...config, security: connectionSecurity({ token, tokenFile, tlsCa, tlsCert, tlsKey }) };
  } catch (error) {
    return command.error(`error: ${(error as Error).message}`);
  }
}
