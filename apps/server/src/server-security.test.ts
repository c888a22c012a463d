import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectionSecurity, createNodeRegistryClient, type ConnectionSecuritySettings } from '@jobkeep/client';
import { makeTestCertificates, type TestCertificates } from '@jobkeep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSecuritySettings, type SecuritySettings } from './server-security.js';
import { useTestServers } from './test-support/test-server.js';

const plain: SecuritySettings = {
  listen: '127.0.0.1:7420',
  auth: 'none',
  tlsCert: undefined,
  tlsKey: undefined,
  tlsClientCa: undefined,
  insecureRemote: false,
  metricsListen: undefined,
};
const tls = { tlsCert: 'server.pem', tlsKey: 'server.key' };

describe('where the server may listen', () => {
  it.each(['127.0.0.1:7420', '127.0.0.2:1', 'localhost:7420', '[::1]:7420'])('listens on loopback %s with neither tokens nor TLS', (listen) => {
    expect(() => checkSecuritySettings({ ...plain, listen })).not.toThrow();
  });

  it.each([
    [{ listen: '0.0.0.0:7420' }, '--auth token and --tls-cert/--tls-key'],
    [{ listen: '10.1.2.3:7420', auth: 'token' as const }, 'without --tls-cert/--tls-key'],
    [{ listen: '[::]:7420', ...tls }, 'without --auth token:'],
    [{ listen: 'jobkeep.example:7420', auth: 'token' as const }, 'without --tls-cert/--tls-key'],
  ])('refuses %o, naming what is missing and the flag that accepts the risk', (settings, missing) => {
    expect(() => checkSecuritySettings({ ...plain, ...settings })).toThrow(missing);
    expect(() => checkSecuritySettings({ ...plain, ...settings })).toThrow('--insecure-remote');
  });

  it('listens anywhere with tokens and TLS, or with --insecure-remote', () => {
    expect(() => checkSecuritySettings({ ...plain, listen: '0.0.0.0:7420', auth: 'token', ...tls })).not.toThrow();
    expect(() => checkSecuritySettings({ ...plain, listen: '0.0.0.0:7420', insecureRemote: true })).not.toThrow();
  });

  it('serves metrics, which have neither tokens nor TLS, on loopback only, unless --insecure-remote', () => {
    const secured = { ...plain, listen: '0.0.0.0:7420', auth: 'token' as const, ...tls };
    expect(() => checkSecuritySettings({ ...secured, metricsListen: '127.0.0.1:9464' })).not.toThrow();
    expect(() => checkSecuritySettings({ ...secured, metricsListen: '0.0.0.0:9464' })).toThrow('refusing to serve metrics on 0.0.0.0:9464');
    expect(() => checkSecuritySettings({ ...secured, metricsListen: '0.0.0.0:9464', insecureRemote: true })).not.toThrow();
  });

  it('refuses half a TLS setting', () => {
    expect(() => checkSecuritySettings({ ...plain, tlsCert: 'server.pem' })).toThrow('both --tls-cert and --tls-key');
    expect(() => checkSecuritySettings({ ...plain, tlsClientCa: 'ca.pem' })).toThrow('give --tls-cert and --tls-key too');
  });
});

describe('TLS and mutual TLS', () => {
  const servers = useTestServers();
  let certs: TestCertificates;
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-tls-'));
    certs = makeTestCertificates(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Lists the registry through a client with these settings; resolves with the outcome. */
  const listNodes = async (address: string, settings: ConnectionSecuritySettings) => {
    const client = createNodeRegistryClient(address, { ...connectionSecurity(settings), retries: false, defaultDeadlineMs: 3000 });
    try {
      await client.list({});
      return 'ok';
    } catch (error) {
      return (error as { code: string }).code;
    } finally {
      client.close();
    }
  };

  it('serves TLS to clients that trust its CA, and nothing to plaintext or other CAs', async () => {
    const { server } = await servers.start({ tlsCert: certs.serverCert, tlsKey: certs.serverKey });
    expect(await listNodes(server.address, { tlsCa: certs.caCert })).toBe('ok');
    expect(await listNodes(server.address, {})).toBe('UNAVAILABLE');
    expect(await listNodes(server.address, { tlsCa: certs.strangerCaCert })).toBe('UNAVAILABLE');
  });

  it('with a client CA, takes only clients whose certificate chains to it', async () => {
    const { server } = await servers.start({ tlsCert: certs.serverCert, tlsKey: certs.serverKey, tlsClientCa: certs.caCert });
    expect(await listNodes(server.address, { tlsCa: certs.caCert, tlsCert: certs.clientCert, tlsKey: certs.clientKey })).toBe('ok');
    expect(await listNodes(server.address, { tlsCa: certs.caCert })).toBe('UNAVAILABLE');
    expect(await listNodes(server.address, { tlsCa: certs.caCert, tlsCert: certs.strangerClientCert, tlsKey: certs.strangerClientKey })).toBe('UNAVAILABLE');
  });

  it('fails to start, naming the file, when a certificate cannot be read', async () => {
    await expect(servers.start({ tlsCert: path.join(dir, 'missing.pem'), tlsKey: certs.serverKey })).rejects.toThrow(/--tls-cert .*missing\.pem/);
  });
});
