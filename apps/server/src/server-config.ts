import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_STORE_LIMITS, DURABILITY_MODES, GROUP_COMMIT_DEFAULTS, parseRetentionSetting, type Durability, type RetentionPolicy } from '@jobkeep/store';
import type { SecuritySettings } from './server-security.js';
import { DEFAULT_MAX_WATCHES_PER_CONNECTION } from './watch-slots.js';

export interface ServerConfig extends SecuritySettings {
  /** host:port to listen on; port 0 picks a free port. */
  listen: string;
  dataDir: string;
  jobStorePath: string | undefined;
  computeStorePath: string | undefined;
  maxOpenDatabases: number;
  /** What a commit survives before it is acknowledged: `full`, or `power-loss-may-lose-writes`. */
  durability: Durability;
  /** The most writes to one database (a node database or coordination.db) that share a transaction. */
  groupCommitMaxWrites: number;
  /** How long a write waits for others to share its transaction, in milliseconds (0: the end of the event loop's turn). */
  groupCommitMaxWaitMs: number;
  logLevel: string;
  /** How long a shutdown waits for in-flight calls before cancelling them, in milliseconds. */
  shutdownGraceMs: number;
  /** A watch stream that has sent nothing for this long gets a progress message, in milliseconds. */
  watchProgressIntervalMs: number;
  /** How long a watch waits for a watcher that reads nothing before ending its stream, in milliseconds. */
  watchStallTimeoutMs: number;
  /** Retention of requester databases' jobs, by state. */
  jobRetention: RetentionPolicy;
  /** Retention of compute databases' executions, by state. */
  executionRetention: RetentionPolicy;
  /** How often retention runs over every node database, in milliseconds. */
  retentionIntervalMs: number;
  /** The longest the lease sweeper sleeps between looks for expired leases, in milliseconds. */
  leaseSweepIntervalMs: number;
  /**
   * How long the server may stand still (its event loop blocked, its process paused) before the
   * rest of the stall is given back to every lease, in milliseconds; 0: never given back.
   */
  leaseStallToleranceMs: number;
  /** The largest request the server takes, in bytes. */
  maxMessageBytes: number;
  /** The largest job spec (or execution job_spec), as JSON, in bytes; below maxMessageBytes. */
  maxSpecBytes: number;
  /** The largest checkpoint data, in bytes; below maxMessageBytes. */
  maxBlobBytes: number;
  /** Watch streams open at once on one client connection. */
  maxWatchesPerConnection: number;
  /** Calls and streams of every kind open at once on one client connection (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
  /** Acquire calls waiting in one lock's line. */
  maxLockWaiters: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Unless set, the stream limit is sixteen times the watch limit, and at least 1024: room for a
 * client's watches, lease keep-alives and the 64 calls in flight the benchmarks make, while a
 * client that opens streams without end is held back by its own HTTP/2 layer, instead of each
 * stream costing the server memory for as long as it stays open.
 */
const DEFAULT_MAX_STREAMS_PER_CONNECTION = 1024;
const STREAMS_PER_WATCH = 16;

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

/**
 * A duration for a timer: Node turns any delay past 2^31 - 1 ms (about 24.8 days) into 1 ms, so
 * a larger setting would make a timer fire continuously instead of rarely.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

function milliseconds(value: string): number {
  const parsed = positiveInteger(value);
  if (parsed > MAX_TIMER_MS) throw new InvalidArgumentError(`expected at most ${MAX_TIMER_MS} ms (about 24 days)`);
  return parsed;
}

/** A group commit that waits longer than this only delays every write. */
const MAX_GROUP_COMMIT_WAIT_MS = 1000;

function groupCommitWait(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > MAX_GROUP_COMMIT_WAIT_MS) {
    throw new InvalidArgumentError(`expected a whole number of milliseconds from 0 to ${MAX_GROUP_COMMIT_WAIT_MS}`);
  }
  return parsed;
}

/** A duration for a timer, or 0 for a feature turned off. */
function millisecondsOrOff(value: string): number {
  if (/^0+$/.test(value)) return 0;
  try {
    return milliseconds(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}, or 0 to turn it off`);
  }
}

function listenAddress(value: string): string {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) > 65535) throw new InvalidArgumentError('expected host:port, such as 127.0.0.1:7420');
  return value;
}

const retention = (kind: 'job' | 'execution') => (value: string) => {
  try {
    return parseRetentionSetting(kind, value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/**
 * The command line of jobkeep-server. Every setting is a flag, an environment variable and a
 * key of the JSON config file (the flag's camelCase name, e.g. "dataDir"); a flag beats the
 * environment, which beats the file, which beats the default.
 */
export function serverCommand(): Command {
  return new Command('jobkeep-server')
    .description('jobkeep: gRPC storage for cluster node agents, over per-node SQLite files')
    .addOption(new Option('--config <file>', 'JSON file of settings, keyed by the flags\' camelCase names').env('JOBKEEP_CONFIG'))
    .addOption(new Option('--listen <host:port>', 'address to serve gRPC on').env('JOBKEEP_LISTEN').default('127.0.0.1:7420').argParser(listenAddress))
    .addOption(
      new Option('--auth <mode>', 'token: every call but health and reflection needs a bearer token (see jobkeep-admin tokens)')
        .env('JOBKEEP_AUTH')
        .default('none')
        .choices(['none', 'token']),
    )
    .addOption(new Option('--tls-cert <file>', 'server certificate chain (PEM); serves TLS with --tls-key').env('JOBKEEP_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'private key (PEM) of --tls-cert').env('JOBKEEP_TLS_KEY'))
    .addOption(new Option('--tls-client-ca <file>', 'CA (PEM) that every client certificate must chain to: mutual TLS').env('JOBKEEP_TLS_CLIENT_CA'))
    .addOption(
      new Option('--insecure-remote', 'allow a non-loopback --listen address without both --auth token and TLS: anyone who reaches it can read and change everything')
        .env('JOBKEEP_INSECURE_REMOTE')
        .default(false),
    )
    .addOption(new Option('--data-dir <dir>', 'directory of coordination.db and the node databases').env('JOBKEEP_DATA_DIR').default('./data'))
    .addOption(new Option('--job-store-path <template>', 'path of requester databases; must contain {node}').env('JOBKEEP_JOB_STORE_PATH'))
    .addOption(new Option('--compute-store-path <template>', 'path of compute databases; must contain {node}').env('JOBKEEP_COMPUTE_STORE_PATH'))
    .addOption(
      new Option('--max-open-databases <n>', 'node databases kept open at once (least recently used closed first)')
        .env('JOBKEEP_MAX_OPEN_DATABASES')
        .default(256)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--durability <mode>',
        'full: a write is acknowledged once on disk; power-loss-may-lose-writes: survives a crash of the server, but a power loss or OS crash may lose the last acknowledged writes',
      )
        .env('JOBKEEP_DURABILITY')
        .default('full')
        .choices(DURABILITY_MODES),
    )
    .addOption(
      new Option('--group-commit-max-writes <n>', 'the most concurrent writes to one database (a node database or coordination.db) that share a transaction and its fsync (a CreateBatch counts its jobs; a bigger one commits alone)')
        .env('JOBKEEP_GROUP_COMMIT_MAX_WRITES')
        .default(GROUP_COMMIT_DEFAULTS.maxWrites)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--group-commit-max-wait-ms <ms>', 'how long a write may wait for others to share its transaction (0: only for the calls that arrived with it)')
        .env('JOBKEEP_GROUP_COMMIT_MAX_WAIT_MS')
        .default(GROUP_COMMIT_DEFAULTS.maxWaitMs)
        .argParser(groupCommitWait),
    )
    .addOption(new Option('--log-level <level>', 'log level').env('JOBKEEP_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(
      new Option('--shutdown-grace-ms <ms>', 'on SIGINT/SIGTERM, how long in-flight calls may finish before they are cancelled')
        .env('JOBKEEP_SHUTDOWN_GRACE_MS')
        .default(10_000)
        .argParser(milliseconds),
    )
    .addOption(
      new Option('--watch-progress-interval-ms <ms>', 'idle watch streams get a progress message with the current revision this often')
        .env('JOBKEEP_WATCH_PROGRESS_INTERVAL_MS')
        .default(10_000)
        .argParser(milliseconds),
    )
    .addOption(
      new Option('--watch-stall-timeout-ms <ms>', 'a watcher that reads nothing for this long is dropped with RESOURCE_EXHAUSTED')
        .env('JOBKEEP_WATCH_STALL_TIMEOUT_MS')
        .default(30_000)
        .argParser(milliseconds),
    )
    .addOption(
      new Option('--job-retention <policy>', 'retention of jobs by state, e.g. COMPLETED=delete:7d,RUNNING=fail:24h (default: keep all)')
        .env('JOBKEEP_JOB_RETENTION')
        .default({}, 'keep all')
        .argParser(retention('job')),
    )
    .addOption(
      new Option('--execution-retention <policy>', 'retention of executions by state, e.g. COMPLETED=delete:7d (default: keep all)')
        .env('JOBKEEP_EXECUTION_RETENTION')
        .default({}, 'keep all')
        .argParser(retention('execution')),
    )
    .addOption(
      new Option('--retention-interval-ms <ms>', 'how often retention runs over every node database')
        .env('JOBKEEP_RETENTION_INTERVAL_MS')
        .default(3_600_000)
        .argParser(milliseconds),
    )
    .addOption(
      new Option('--lease-sweep-interval-ms <ms>', 'the longest an expired lease may outlive its TTL before its locks are released')
        .env('JOBKEEP_LEASE_SWEEP_INTERVAL_MS')
        .default(500)
        .argParser(milliseconds),
    )
    .addOption(
      new Option(
        '--lease-stall-tolerance-ms <ms>',
        'a stall of the server (a long transaction, a slow fsync, a paused process) past this long does not count against leases; 0 turns that off',
      )
        .env('JOBKEEP_LEASE_STALL_TOLERANCE_MS')
        .default(500)
        .argParser(millisecondsOrOff),
    )
    .addOption(
      new Option('--max-message-bytes <n>', 'largest request, in bytes; a larger one gets RESOURCE_EXHAUSTED (16 MiB fits a CreateBatch of 10,000 jobs of 1.6 KB)')
        .env('JOBKEEP_MAX_MESSAGE_BYTES')
        .default(16 * 1024 * 1024)
        .argParser(positiveInteger),
    )
    .addOption(new Option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (off unless given)').env('JOBKEEP_METRICS_LISTEN').argParser(listenAddress))
    .addOption(
      new Option('--max-spec-bytes <n>', 'largest job spec (and execution job_spec), as JSON, in bytes; larger is INVALID_ARGUMENT')
        .env('JOBKEEP_MAX_SPEC_BYTES')
        .default(DEFAULT_STORE_LIMITS.maxSpecBytes)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--max-blob-bytes <n>', 'largest checkpoint data, in bytes; larger is INVALID_ARGUMENT')
        .env('JOBKEEP_MAX_BLOB_BYTES')
        .default(DEFAULT_STORE_LIMITS.maxBlobBytes)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--max-watches-per-connection <n>', 'watch streams open at once on one client connection; one more is RESOURCE_EXHAUSTED')
        .env('JOBKEEP_MAX_WATCHES_PER_CONNECTION')
        .default(DEFAULT_MAX_WATCHES_PER_CONNECTION)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--max-streams-per-connection <n>',
        'calls and streams of every kind open at once on one client connection, the client holding back more until one ends (default: 16 × --max-watches-per-connection, at least 1024)',
      )
        .env('JOBKEEP_MAX_STREAMS_PER_CONNECTION')
        .default(DEFAULT_MAX_STREAMS_PER_CONNECTION, '16 × --max-watches-per-connection, at least 1024')
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--max-lock-waiters <n>', 'Acquire calls waiting in one lock\'s line; one more is RESOURCE_EXHAUSTED')
        .env('JOBKEEP_MAX_LOCK_WAITERS')
        .default(DEFAULT_STORE_LIMITS.maxLockWaiters)
        .argParser(positiveInteger),
    )
    .showHelpAfterError();
}

/**
 * Parses argv (as process.argv: node, script, args...), the environment and the config file.
 * On bad settings the command prints why and exits, unless it was given `exitOverride()`.
 */
export function parseServerConfig(argv: readonly string[], command = serverCommand()): ServerConfig {
  command.parse(argv);
  const configFile = command.getOptionValue('config') as string | undefined;
  if (configFile !== undefined) applyConfigFile(command, configFile);
  const { config: _file, ...settings } = command.opts<ServerConfig & { config?: string }>();
  if (command.getOptionValueSource('maxStreamsPerConnection') === 'default') {
    settings.maxStreamsPerConnection = Math.max(DEFAULT_MAX_STREAMS_PER_CONNECTION, STREAMS_PER_WATCH * settings.maxWatchesPerConnection);
  }
  const problem = messageLimitProblem(settings) ?? streamLimitProblem(settings);
  if (problem !== undefined) command.error(problem);
  return settings;
}

/**
 * Every watch is a stream, so a connection full of watches could make no other call unless the
 * stream limit is above the watch limit; a watch past it would wait instead of hearing
 * RESOURCE_EXHAUSTED.
 */
function streamLimitProblem(config: Pick<ServerConfig, 'maxStreamsPerConnection' | 'maxWatchesPerConnection'>): string | undefined {
  if (config.maxStreamsPerConnection > config.maxWatchesPerConnection) return undefined;
  return (
    `--max-streams-per-connection (${config.maxStreamsPerConnection}) must be larger than --max-watches-per-connection ` +
    `(${config.maxWatchesPerConnection}): every watch is a stream, and a connection needs room for its other calls`
  );
}

/**
 * A request carries a spec or a checkpoint's data and more, so the message limit must be above
 * both: otherwise grpc-js would refuse (RESOURCE_EXHAUSTED) what the size limits promise to take.
 */
function messageLimitProblem(config: Pick<ServerConfig, 'maxMessageBytes' | 'maxSpecBytes' | 'maxBlobBytes'>): string | undefined {
  if (config.maxMessageBytes > Math.max(config.maxSpecBytes, config.maxBlobBytes)) return undefined;
  return (
    `--max-message-bytes (${config.maxMessageBytes}) must be larger than --max-spec-bytes (${config.maxSpecBytes}) ` +
    `and --max-blob-bytes (${config.maxBlobBytes}): a request carries a spec or a checkpoint's data, and more`
  );
}

/**
 * Fills the settings that neither a flag nor the environment gave from the config file,
 * through each option's own parser, so that a value is checked the same way wherever it comes
 * from. An unknown key is an error rather than a silently ignored typo.
 */
function applyConfigFile(command: Command, file: string): void {
  let values: Record<string, unknown>;
  try {
    values = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    command.error(`cannot read the config file ${file}: ${(error as Error).message}`);
  }
  for (const [key, value] of Object.entries(values)) {
    const option = command.options.find((candidate) => candidate.attributeName() === key && key !== 'config');
    if (option === undefined) command.error(`the config file ${file} has an unknown setting ${JSON.stringify(key)}`);
    if (command.getOptionValueSource(key) !== 'default' && command.getOptionValue(key) !== undefined) continue;
    const text = typeof value === 'object' && value !== null ? value : String(value);
    try {
      if (option.isBoolean()) {
        if (typeof value !== 'boolean') throw new InvalidArgumentError('expected true or false');
        command.setOptionValueWithSource(key, value, 'config');
        continue;
      }
      const parsed = option.parseArg ? option.parseArg(text as string, undefined) : text;
      if (option.argChoices && !option.argChoices.includes(String(parsed))) {
        throw new InvalidArgumentError(`allowed choices are ${option.argChoices.join(', ')}`);
      }
      command.setOptionValueWithSource(key, parsed, 'config');
    } catch (error) {
      command.error(`the config file ${file}: ${key}: ${(error as Error).message}`);
    }
  }
}
