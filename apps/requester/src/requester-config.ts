import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONNECTION_SECURITY_OPTIONS, connectionSecurity, type ConnectionSecurity, type ConnectionSecuritySettings } from '@jobkeep/client';

/** What every command needs: where jobkeep is, and which requester node's database to use. */
export interface CommonOptions {
  /** host:port of the jobkeep server. */
  server: string;
  /** The requester node: its database is `{node}-requester.db`. */
  nodeId: string;
  /** Token and TLS credentials for the server, files already read. */
  security: ConnectionSecurity;
}

export interface DaemonConfig extends CommonOptions {
  /** host:port recorded in the node registry (the registry requires one; nothing listens on it). */
  address: string;
  /** Labels recorded in the node registry. */
  labels: Record<string, string>;
  /** TTL of the lease the node registers under, in seconds. */
  leaseTtlSeconds: number;
  /** How often the registry is read to notice compute nodes that went offline, in milliseconds. */
  nodeCheckIntervalMs: number;
  /** How long a compute node that rejected a bid is treated as full, in milliseconds. */
  rejectCooldownMs: number;
  /** Jobs reconciled at once. */
  concurrency: number;
  logLevel: string;
}

export const DEFAULT_SERVER = '127.0.0.1:7420';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** The server's own rule for node ids, checked here too so that a typo fails before any call. */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;
/** Node turns a timer longer than this into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function hostPort(value: string): string {
  const match = HOST_PORT.exec(value);
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw new InvalidArgumentError('expected host:port, such as 127.0.0.1:7420');
  }
  return value;
}

export function nodeId(value: string): string {
  if (!NODE_ID.test(value) || value.includes('..')) {
    throw new InvalidArgumentError('expected letters, digits, ".", "_" or "-" (at most 128, starting with a letter or digit, no "..")');
  }
  return value;
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

export function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return parsed;
}

export function milliseconds(value: string): number {
  const parsed = positiveInteger(value);
  if (parsed > MAX_TIMER_MS) throw new InvalidArgumentError(`expected at most ${MAX_TIMER_MS} ms`);
  return parsed;
}

/** `key=value`, added to the map of the options given so far (repeatable flags). */
export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const result = { ...previous };
  // An environment variable holds several, separated by commas.
  for (const pair of value.split(',')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`expected key=value, not ${JSON.stringify(pair)}`);
    result[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return result;
}

/** `key=value`, one per flag (a value may hold commas), added to the map of the flags given so far. */
export function keyValuePair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, not ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** Any whole number that fits an int32, negative ones included. */
export function int32(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < -(2 ** 31) || parsed > 2 ** 31 - 1) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

/** The host name if the registry would take it as an address, else localhost. */
function defaultAddress(): string {
  const host = os.hostname();
  return HOST_PORT.test(`${host}:7421`) ? `${host}:7421` : 'localhost:7421';
}

/** Adds --server, --node-id and the token and TLS options, which every command takes. */
export function addCommonOptions(command: Command): Command {
  command
    .addOption(new Option('--server <host:port>', 'the jobkeep server').env('JOBKEEP_SERVER').default(DEFAULT_SERVER).argParser(hostPort))
    .addOption(new Option('--node-id <id>', 'this requester node (its database is {node}-requester.db)').env('JOBKEEP_NODE_ID').argParser(nodeId));
  for (const { flags, description, env } of CONNECTION_SECURITY_OPTIONS) command.addOption(new Option(flags, description).env(env));
  return command;
}

/** The common options of `command` and its parents; a missing node id or unusable TLS file is a usage error. */
export function commonOptions(command: Command): CommonOptions {
  const options = command.optsWithGlobals<{ server: string; nodeId?: string } & ConnectionSecuritySettings>();
  if (options.nodeId === undefined) command.error('error: a requester node id is required: --node-id <id> or JOBKEEP_NODE_ID');
  try {
    return { server: options.server, nodeId: options.nodeId, security: connectionSecurity(options) };
  } catch (error) {
    return command.error(`error: ${(error as Error).message}`);
  }
}

/** Adds the daemon's own settings; each has a flag and an environment variable. */
export function addDaemonOptions(command: Command): Command {
  return command
    .addOption(new Option('--address <host:port>', 'address recorded in the node registry').env('JOBKEEP_ADDRESS').default(defaultAddress()).argParser(hostPort))
    .addOption(new Option('--label <key=value>', 'a label recorded in the node registry (repeatable)').env('JOBKEEP_LABELS').default({}).argParser(keyValue))
    .addOption(new Option('--lease-ttl-seconds <s>', 'TTL of the lease the node registers under (2 to 3600)').env('JOBKEEP_LEASE_TTL_SECONDS').default(10).argParser(leaseTtl))
    .addOption(
      new Option('--node-check-interval-ms <ms>', 'how often compute nodes are checked for going offline')
        .env('JOBKEEP_NODE_CHECK_INTERVAL_MS')
        .default(1000)
        .argParser(milliseconds),
    )
    .addOption(
      new Option('--reject-cooldown-ms <ms>', 'how long a compute node that rejected a bid gets no new bids')
        .env('JOBKEEP_REJECT_COOLDOWN_MS')
        .default(1000)
        .argParser(milliseconds),
    )
    .addOption(new Option('--concurrency <n>', 'jobs reconciled at once').env('JOBKEEP_CONCURRENCY').default(16).argParser(positiveInteger))
    .addOption(new Option('--log-level <level>', 'log level').env('JOBKEEP_LOG_LEVEL').default('info').choices(LOG_LEVELS));
}

export function daemonConfig(command: Command): DaemonConfig {
  const options = command.opts<{
    address: string;
    label: Record<string, string>;
    leaseTtlSeconds: number;
    nodeCheckIntervalMs: number;
    rejectCooldownMs: number;
    concurrency: number;
    logLevel: string;
  }>();
  return {
    ...commonOptions(command),
    address: options.address,
    labels: options.label,
    leaseTtlSeconds: options.leaseTtlSeconds,
    nodeCheckIntervalMs: options.nodeCheckIntervalMs,
    rejectCooldownMs: options.rejectCooldownMs,
    concurrency: options.concurrency,
    logLevel: options.logLevel,
  };
}

function leaseTtl(value: string): number {
  const parsed = positiveInteger(value);
  if (parsed < 2 || parsed > 3600) throw new InvalidArgumentError('expected 2 to 3600 seconds');
  return parsed;
}
