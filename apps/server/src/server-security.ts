import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { isLoopbackAddress } from '@jobkeep/api';

export type AuthMode = 'none' | 'token';

export interface SecuritySettings {
  listen: string;
  auth: AuthMode;
  /** Server certificate chain and key (PEM); TLS is on when given. */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** CA (PEM) that client certificates must chain to; when given, every client must present one. */
  tlsClientCa: string | undefined;
  /** Allow a non-loopback listen address without both authentication and TLS. */
  insecureRemote: boolean;
  /** host:port of the metrics endpoint, which has neither; none when undefined. */
  metricsListen: string | undefined;
}

/**
 * Refuses settings that would expose the cluster's state: outside loopback, a server without
 * both tokens and TLS lets anyone on the network read and rewrite every database, so it only
 * starts when the operator says so with a flag named for the risk.
 */
export function checkSecuritySettings(settings: SecuritySettings): void {
  if ((settings.tlsCert === undefined) !== (settings.tlsKey === undefined)) {
    throw new Error('TLS needs both --tls-cert and --tls-key');
  }
  if (settings.tlsClientCa !== undefined && settings.tlsCert === undefined) {
    throw new Error('--tls-client-ca checks client certificates over TLS: give --tls-cert and --tls-key too');
  }
  const secured = settings.auth === 'token' && settings.tlsCert !== undefined;
  if (!secured && !settings.insecureRemote && !isLoopbackAddress(settings.listen)) {
    const missing = [settings.auth === 'token' ? undefined : '--auth token', settings.tlsCert === undefined ? '--tls-cert/--tls-key' : undefined].filter(Boolean);
    throw new Error(
      `refusing to listen on ${settings.listen} without ${missing.join(' and ')}: anyone who can reach it could read and change every database. ` +
        'Listen on a loopback address (127.0.0.1:7420), turn both on, or pass --insecure-remote to accept the risk',
    );
  }
  if (settings.metricsListen !== undefined && !settings.insecureRemote && !isLoopbackAddress(settings.metricsListen)) {
    throw new Error(
      `refusing to serve metrics on ${settings.metricsListen}: the endpoint has neither tokens nor TLS, and its metrics name every open node. ` +
        'Serve them on a loopback address (a local agent can scrape and forward them), or pass --insecure-remote to accept the risk',
    );
  }
}

/** Plaintext, TLS, or TLS with required client certificates, from the settings' PEM files. */
export function serverCredentials(settings: SecuritySettings): grpc.ServerCredentials {
  if (settings.tlsCert === undefined || settings.tlsKey === undefined) return grpc.ServerCredentials.createInsecure();
  const clientCa = settings.tlsClientCa === undefined ? null : readPem('--tls-client-ca', settings.tlsClientCa);
  const keyPair = { cert_chain: readPem('--tls-cert', settings.tlsCert), private_key: readPem('--tls-key', settings.tlsKey) };
  return grpc.ServerCredentials.createSsl(clientCa, [keyPair], clientCa !== null);
}

function readPem(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
