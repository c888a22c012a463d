import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** PEM files for TLS tests: a CA, a server certificate for 127.0.0.1, and client certificates. */
export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Signed by the CA: a server that checks client certificates takes it. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA the server does not know, and a client certificate it signed. */
  readonly strangerCaCert: string;
  readonly strangerClientCert: string;
  readonly strangerClientKey: string;
}

/**
 * Makes fresh certificates in `dir` with the openssl command: Node can use certificates but
 * cannot issue them, and a real CA chain is what the server and clients must be tested with.
 */
export function makeTestCertificates(dir: string): TestCertificates {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const newCa = (name: string) => openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`);
  const issue = (name: string, ca: string, subjectAltName: string) => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${subjectAltName}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  newCa('ca');
  newCa('stranger-ca');
  issue('server', 'ca', 'IP:127.0.0.1,DNS:localhost');
  issue('client', 'ca', 'DNS:jobkeep-client');
  issue('stranger-client', 'stranger-ca', 'DNS:stranger');
  return {
    dir,
    caCert: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    strangerCaCert: file('stranger-ca.pem'),
    strangerClientCert: file('stranger-client.pem'),
    strangerClientKey: file('stranger-client.key'),
  };
}
