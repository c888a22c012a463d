import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { JobkeepError } from '@jobkeep/errors';
import type { ConnectionSecuritySettings } from './connection-options.js';

/** What `createJobStoreClient` and the other clients take: spread it into their options. */
export interface ConnectionSecurity {
  token?: string;
  credentials?: grpc.ChannelCredentials;
}

/**
 * Reads the files the settings name and builds the token and channel credentials. A file that
 * cannot be read, or a certificate without its key, is INVALID_ARGUMENT naming the setting, so
 * a program fails at start rather than at its first call.
 */
export function connectionSecurity(settings: ConnectionSecuritySettings): ConnectionSecurity {
  if (settings.token !== undefined && settings.tokenFile !== undefined) {
    throw new JobkeepError('INVALID_ARGUMENT', 'give the token once: --token or --token-file, not both');
  }
  if ((settings.tlsCert === undefined) !== (settings.tlsKey === undefined)) {
    throw new JobkeepError('INVALID_ARGUMENT', 'a client certificate needs its key: give --tls-cert and --tls-key together');
  }
  if (settings.tlsCert !== undefined && settings.tlsCa === undefined) {
    throw new JobkeepError('INVALID_ARGUMENT', 'a client certificate is sent over TLS: give --tls-ca too');
  }
  const token = settings.tokenFile === undefined ? settings.token : readSetting('--token-file', settings.tokenFile).toString('utf8').trim();
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new JobkeepError('INVALID_ARGUMENT', 'the token is empty or holds spaces or control characters: check --token / --token-file');
  }
  const credentials = settings.tlsCa === undefined ? undefined : tlsCredentials(settings.tlsCa, settings.tlsCert, settings.tlsKey);
  return { ...(token === undefined ? {} : { token }), ...(credentials === undefined ? {} : { credentials }) };
}

function tlsCredentials(caFile: string, certFile: string | undefined, keyFile: string | undefined): grpc.ChannelCredentials {
  const ca = readSetting('--tls-ca', caFile);
  const key = keyFile === undefined ? null : readSetting('--tls-key', keyFile);
  const cert = certFile === undefined ? null : readSetting('--tls-cert', certFile);
  try {
    return grpc.credentials.createSsl(ca, key, cert);
  } catch (error) {
    // Node's TLS layer parses the PEM here, so a wrong or mismatched file fails now, not per call.
    throw new JobkeepError('INVALID_ARGUMENT', `the TLS files (--tls-ca ${caFile}${certFile === undefined ? '' : `, --tls-cert ${certFile}, --tls-key ${keyFile}`}) are not usable: ${(error as Error).message}`);
  }
}

function readSetting(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new JobkeepError('INVALID_ARGUMENT', `${flag} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
