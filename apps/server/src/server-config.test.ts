import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerConfig, serverCommand } from './server-config.js';

const quietCommand = () => serverCommand().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
const parse = (...args: string[]) => parseServerConfig(['node', 'jobkeep-server', ...args], quietCommand());

describe('server settings', () => {
  const saved = { ...process.env };
  const dirs: string[] = [];
  afterEach(() => {
    process.env = { ...saved };
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const configFile = (content: unknown) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-config-'));
    dirs.push(dir);
    const file = path.join(dir, 'jobkeep.json');
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };

  it('defaults to 127.0.0.1:7420, ./data and keeping every record', () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
    expect(parse()).toMatchObject({
      listen: '127.0.0.1:7420',
      dataDir: './data',
      maxOpenDatabases: 256,
      jobRetention: {},
      executionRetention: {},
      retentionIntervalMs: 3_600_000,
      maxMessageBytes: 16 * 1024 * 1024,
      maxSpecBytes: 1024 * 1024,
      maxBlobBytes: 1024 * 1024,
      maxWatchesPerConnection: 64,
      maxStreamsPerConnection: 1024,
      maxLockWaiters: 1024,
    });
  });

  it('reads the limits from flags, the environment and the config file', () => {
    process.env.JOBKEEP_CONFIG = configFile({ maxLockWaiters: 10, maxBlobBytes: 4096 });
    process.env.JOBKEEP_MAX_WATCHES_PER_CONNECTION = '8';
    process.env.JOBKEEP_MAX_BLOB_BYTES = '2048';
    expect(parse('--max-spec-bytes', '65536')).toMatchObject({ maxSpecBytes: 65536, maxBlobBytes: 2048, maxWatchesPerConnection: 8, maxLockWaiters: 10 });
  });

  it('sets the stream limit to sixteen streams a watch, at least 1024, unless it is given', () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
    expect(parse('--max-watches-per-connection', '128')).toMatchObject({ maxWatchesPerConnection: 128, maxStreamsPerConnection: 2048 });
    expect(parse('--max-watches-per-connection', '8')).toMatchObject({ maxStreamsPerConnection: 1024 });
    expect(parse('--max-watches-per-connection', '128', '--max-streams-per-connection', '200')).toMatchObject({ maxStreamsPerConnection: 200 });
    process.env.JOBKEEP_CONFIG = configFile({ maxWatchesPerConnection: 100, maxStreamsPerConnection: 101 });
    expect(parse()).toMatchObject({ maxWatchesPerConnection: 100, maxStreamsPerConnection: 101 });
  });

  it('refuses a message limit that a spec or a checkpoint at its own limit would not fit in', () => {
    expect(() => parse('--max-message-bytes', '1048576')).toThrow(
      "--max-message-bytes (1048576) must be larger than --max-spec-bytes (1048576) and --max-blob-bytes (1048576): a request carries a spec or a checkpoint's data, and more",
    );
    expect(() => parse('--max-message-bytes', '4096', '--max-spec-bytes', '1000', '--max-blob-bytes', '5000')).toThrow('--max-blob-bytes (5000)');
    expect(parse('--max-message-bytes', '4096', '--max-spec-bytes', '1000', '--max-blob-bytes', '4095')).toMatchObject({ maxMessageBytes: 4096 });
  });

  it('takes a flag over the environment, and the environment over the config file', () => {
    const file = configFile({ listen: '127.0.0.1:1111', dataDir: '/srv/from-file', maxOpenDatabases: 7, jobRetention: { COMPLETED: 'delete:7d' } });
    process.env.JOBKEEP_CONFIG = file;
    process.env.JOBKEEP_DATA_DIR = '/srv/from-env';
    const config = parse('--listen', '127.0.0.1:2222');
    expect(config.listen).toBe('127.0.0.1:2222');
    expect(config.dataDir).toBe('/srv/from-env');
    expect(config.maxOpenDatabases).toBe(7);
    expect(config.jobRetention).toEqual({ COMPLETED: { action: 'delete', olderThanMs: 7 * 86_400_000 } });
  });

  it('reads retention policies from flags and the environment', () => {
    process.env.JOBKEEP_EXECUTION_RETENTION = 'FAILED=delete:30d,RUNNING=fail:2h';
    const config = parse('--job-retention', 'CANCELLED=delete:1h');
    expect(config.jobRetention).toEqual({ CANCELLED: { action: 'delete', olderThanMs: 3_600_000 } });
    expect(config.executionRetention).toEqual({
      FAILED: { action: 'delete', olderThanMs: 30 * 86_400_000 },
      RUNNING: { action: 'fail', olderThanMs: 7_200_000 },
    });
  });

  it.each([
    [['--job-retention', 'RUNNING=delete:1d'], /not terminal/],
    [['--listen', 'nowhere'], /host:port/],
    [['--max-open-databases', '0'], /positive integer/],
    [['--retention-interval-ms', '2592000000'], /at most 2147483647 ms/],
    [['--max-watches-per-connection', '0'], /positive integer/],
    [['--max-streams-per-connection', '0'], /positive integer/],
    [['--max-streams-per-connection', '64'], /--max-streams-per-connection \(64\) must be larger than --max-watches-per-connection \(64\)/],
    [['--max-lock-waiters', '-1'], /positive integer/],
  ])('refuses %j, saying why', (args, message) => {
    expect(() => parse(...args)).toThrow(message);
  });

  it('takes authentication and TLS settings from flags, the environment and the config file', () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
    const defaults = parse();
    expect(defaults).toMatchObject({ auth: 'none', insecureRemote: false });
    expect([defaults.tlsCert, defaults.tlsKey, defaults.tlsClientCa]).toEqual([undefined, undefined, undefined]);
    process.env.JOBKEEP_TLS_CLIENT_CA = '/etc/jobkeep/clients.pem';
    const file = configFile({ auth: 'token', tlsCert: '/etc/jobkeep/server.pem', tlsKey: '/etc/jobkeep/server.key', insecureRemote: true });
    expect(parse('--config', file)).toMatchObject({
      auth: 'token',
      tlsCert: '/etc/jobkeep/server.pem',
      tlsKey: '/etc/jobkeep/server.key',
      tlsClientCa: '/etc/jobkeep/clients.pem',
      insecureRemote: true,
    });
    expect(() => parse('--auth', 'password')).toThrow(/none, token/);
    // A string "false" would be truthy: a switch in the file must be a JSON boolean.
    expect(() => parse('--config', configFile({ insecureRemote: 'false' }))).toThrow(/insecureRemote: expected true or false/);
  });

  it('refuses a config file with an unknown or invalid setting, or that is not JSON', () => {
    expect(() => parse('--config', configFile({ dataDirectory: '/x' }))).toThrow(/unknown setting "dataDirectory"/);
    expect(() => parse('--config', configFile({ logLevel: 'chatty' }))).toThrow(/logLevel/);
    expect(() => parse('--config', configFile({ executionRetention: { COMPLETED: 'fail:1d' } }))).toThrow(/terminal/);
    expect(() => parse('--config', configFile('{not json'))).toThrow(/cannot read the config file/);
  });

  it('takes the durability and the bounds of group commit from flags, the environment and the config file', () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
    expect(parse()).toMatchObject({ durability: 'full', groupCommitMaxWrites: 256, groupCommitMaxWaitMs: 0 });
    expect(parse('--durability', 'power-loss-may-lose-writes', '--group-commit-max-writes', '32')).toMatchObject({
      durability: 'power-loss-may-lose-writes',
      groupCommitMaxWrites: 32,
    });
    process.env.JOBKEEP_DURABILITY = 'power-loss-may-lose-writes';
    process.env.JOBKEEP_GROUP_COMMIT_MAX_WAIT_MS = '2';
    expect(parse()).toMatchObject({ durability: 'power-loss-may-lose-writes', groupCommitMaxWaitMs: 2 });
    for (const key of ['JOBKEEP_DURABILITY', 'JOBKEEP_GROUP_COMMIT_MAX_WAIT_MS']) delete process.env[key];
    const file = configFile({ durability: 'power-loss-may-lose-writes', groupCommitMaxWrites: 64, groupCommitMaxWaitMs: 1 });
    expect(parse('--config', file)).toMatchObject({ durability: 'power-loss-may-lose-writes', groupCommitMaxWrites: 64, groupCommitMaxWaitMs: 1 });

    expect(() => parse('--durability', 'normal')).toThrow(/full, power-loss-may-lose-writes/);
    expect(() => parse('--config', configFile({ durability: 'off' }))).toThrow(/durability: allowed choices are full, power-loss-may-lose-writes/i);
    expect(() => parse('--group-commit-max-writes', '0')).toThrow(/positive integer/);
    expect(() => parse('--group-commit-max-wait-ms', '1001')).toThrow(/from 0 to 1000/);
    expect(() => parse('--group-commit-max-wait-ms', '-1')).toThrow(/from 0 to 1000/);
  });

  it('gives leases back stalls past 500 ms unless told another tolerance, or 0 for none', () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
    expect(parse()).toMatchObject({ leaseStallToleranceMs: 500 });
    expect(parse('--lease-stall-tolerance-ms', '0')).toMatchObject({ leaseStallToleranceMs: 0 });
    process.env.JOBKEEP_LEASE_STALL_TOLERANCE_MS = '2000';
    expect(parse()).toMatchObject({ leaseStallToleranceMs: 2000 });
    delete process.env.JOBKEEP_LEASE_STALL_TOLERANCE_MS;
    expect(parse('--config', configFile({ leaseStallToleranceMs: 0 }))).toMatchObject({ leaseStallToleranceMs: 0 });

    for (const value of ['-1', '1.5', 'off', '']) expect(() => parse('--lease-stall-tolerance-ms', value)).toThrow(/positive integer, or 0 to turn it off/);
  });
});
