import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { COMPUTE_MAIN } from '@jobkeep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { computeCommand, parseComputeConfig } from './compute-config.js';

const quietCommand = () => computeCommand().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
const parse = (...args: string[]) => parseComputeConfig(['node', 'jobkeep-compute', ...args], quietCommand());

describe('compute node settings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  const clearEnvironment = () => {
    for (const key of Object.keys(process.env)) if (key.startsWith('JOBKEEP_')) delete process.env[key];
  };

  it('defaults to the local server, no labels, and PATH, HOME and LANG for exec runs', () => {
    clearEnvironment();
    expect(parse('--node-id', 'c-1')).toMatchObject({
      server: '127.0.0.1:7420',
      nodeId: 'c-1',
      labels: {},
      leaseTtlSeconds: 10,
      envAllow: ['PATH', 'HOME', 'LANG'],
      logLevel: 'info',
    });
  });

  it('reads every setting from flags or the environment, a flag beating the environment', () => {
    clearEnvironment();
    process.env.JOBKEEP_NODE_ID = 'from-env';
    process.env.JOBKEEP_SERVER = 'jobkeep.internal:9000';
    process.env.JOBKEEP_LABELS = 'zone=eu-1, gpu=yes';
    process.env.JOBKEEP_SLOTS = '3';
    const config = parse('--slots', '8', '--env-allow', 'PATH,TZ', '--lease-ttl-seconds', '5', '--address', 'c1.example:7421');
    expect(config).toMatchObject({
      nodeId: 'from-env',
      server: 'jobkeep.internal:9000',
      labels: { zone: 'eu-1', gpu: 'yes' },
      slots: 8,
      envAllow: ['PATH', 'TZ'],
      leaseTtlSeconds: 5,
      address: 'c1.example:7421',
    });
  });

  it.each([
    [[], /node-id/],
    [['--node-id', '../etc'], /letters, digits/],
    [['--node-id', 'c', '--slots', '0'], /from 1 to/],
    [['--node-id', 'c', '--labels', 'zone'], /key=value/],
    [['--node-id', 'c', '--server', 'nowhere'], /host:port/],
    [['--node-id', 'c', '--env-allow', 'PATH,NOT-A-NAME'], /not an environment variable name/],
    [['--node-id', 'c', '--lease-ttl-seconds', '1'], /from 2 to 3600/],
    [['--node-id', 'c', '--token-file', '/nonexistent/token'], /--token-file \/nonexistent\/token: ENOENT/],
    [['--node-id', 'c', '--tls-ca', '/nonexistent/ca.pem'], /--tls-ca \/nonexistent\/ca.pem: ENOENT/],
    [['--node-id', 'c', '--tls-cert', 'client.pem'], /--tls-cert and --tls-key together/],
    [['--node-id', 'c', '--token', 'a', '--token-file', 'b'], /not both/],
  ])('refuses %j, saying why', (args, message) => {
    clearEnvironment();
    expect(() => parse(...args)).toThrow(message);
  });

  it('takes its token from the environment or from a file', () => {
    clearEnvironment();
    process.env.JOBKEEP_TOKEN = 'jk_from_environment';
    expect(parse('--node-id', 'c').security).toEqual({ token: 'jk_from_environment' });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-token-')), 'token');
    fs.writeFileSync(file, 'jk_from_file\n');
    delete process.env.JOBKEEP_TOKEN;
    expect(parse('--node-id', 'c', '--token-file', file).security).toEqual({ token: 'jk_from_file' });
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('documents every setting with its environment variable in --help', () => {
    const help = spawnSync(process.execPath, [COMPUTE_MAIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const text of ['--server', 'JOBKEEP_SERVER', '127.0.0.1:7420', '--node-id', 'JOBKEEP_NODE_ID', '--slots', '--labels', '--lease-ttl-seconds', '--env-allow', 'PATH,HOME,LANG', '--log-level', '--token-file', 'JOBKEEP_TOKEN', '--tls-ca', '--tls-cert', '--tls-key']) {
      expect(help.stdout).toContain(text);
    }
  });
});
