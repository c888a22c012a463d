import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { JobState } from '@jobkeep/api';
import { connectionSecurity, createJobStoreClient } from '@jobkeep/client';
import { ADMIN_MAIN, LocalCluster, REQUESTER_MAIN, makeTestCertificates } from '@jobkeep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUESTER, untilAllEnded } from './cluster-fixture.js';

const run = promisify(execFile);

describe('a cluster behind tokens and mutual TLS', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('runs jobs with agents that hold scoped tokens and client certificates; a reader may look but not submit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-secure-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const certs = makeTestCertificates(path.join(dir, 'certs'));
    const dataDir = path.join(dir, 'data');
    const tokenFile = (name: string, token: string) => {
      const file = path.join(dir, `${name}.token`);
      fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
      return file;
    };
    const admin = async (...args: string[]) => JSON.parse((await run(process.execPath, [ADMIN_MAIN, ...args, '--json'])).stdout) as { token: string };

    // The first admin token, offline, before the server ever ran.
    const root = tokenFile('root', (await admin('tokens', 'create', '--role', 'admin', '--name', 'root', '--data-dir', dataDir)).token);

    const cluster = await LocalCluster.start([
      '--data-dir', dataDir, '--auth', 'token', '--lease-sweep-interval-ms', '100',
      '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.caCert,
    ]);
    cleanups.push(() => cluster.stop());
    const tls = ['--tls-ca', certs.caCert, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey];
    const live = ['--server', cluster.address, '--token-file', root, ...tls];
    const agentToken = async (name: string, ...nodes: string[]) =>
      tokenFile(name, (await admin(...live, 'tokens', 'create', '--role', 'agent', '--name', name, ...nodes.flatMap((node) => ['--node', node]))).token);
    const requesterToken = await agentToken('requester', REQUESTER, 'compute-1');
    const computeToken = await agentToken('compute', 'compute-1', REQUESTER);
    const readerToken = tokenFile('reader', (await admin(...live, 'tokens', 'create', '--role', 'reader', '--name', 'dashboard')).token);

    await cluster.startCompute({ id: 'compute-1', slots: 4 }, ['--token-file', computeToken, ...tls]);
    await cluster.startRequester(REQUESTER, ['--token-file', requesterToken, ...tls]);

    const submit = (token: string) =>
      run(process.execPath, [REQUESTER_MAIN, 'submit', '--server', cluster.address, '--node-id', REQUESTER, '--token-file', token, ...tls, '--count', '5', '--executor', 'sleep', '--sleep-ms', '20']);
    await expect(submit(readerToken)).rejects.toMatchObject({ code: expect.any(Number), stderr: expect.stringContaining('PERMISSION_DENIED') });
    await submit(requesterToken);

    const jobs = createJobStoreClient(cluster.address, connectionSecurity({ tokenFile: readerToken, tlsCa: certs.caCert, tlsCert: certs.clientCert, tlsKey: certs.clientKey }));
    cleanups.push(() => jobs.close());
    const ended = await untilAllEnded(jobs, 60_000);
    expect(ended.map((job) => JobState[job.state])).toEqual(Array(5).fill('COMPLETED'));

    // Without a client certificate, or without a token, nothing gets through.
    const noCertificate = createJobStoreClient(cluster.address, { ...connectionSecurity({ tokenFile: root, tlsCa: certs.caCert }), retries: false });
    cleanups.push(() => noCertificate.close());
    await expect(noCertificate.listJobs({ nodeId: REQUESTER })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const noToken = createJobStoreClient(cluster.address, { ...connectionSecurity({ tlsCa: certs.caCert, tlsCert: certs.clientCert, tlsKey: certs.clientKey }), retries: false });
    cleanups.push(() => noToken.close());
    await expect(noToken.listJobs({ nodeId: REQUESTER })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
