// The token and TLS settings of client programs, free of any import, so that a program can
// declare its command line without loading gRPC (the admin CLI's offline commands never need it).

/** How a program reaches a server that wants a token, TLS, or a client certificate. */
export interface ConnectionSecuritySettings {
  /** The bearer token itself; prefer `tokenFile`, which keeps it out of `ps` and shell history. */
  token?: string;
  /** A file holding the bearer token (surrounding whitespace ignored). */
  tokenFile?: string;
  /** The CA certificate (PEM) that signed the server's certificate; turns TLS on. */
  tlsCa?: string;
  /** This client's certificate (PEM), for a server that requires client certificates. */
  tlsCert?: string;
  /** The private key (PEM) of `tlsCert`. */
  tlsKey?: string;
}

/**
 * The command-line options every jobkeep client program takes, one per setting, each with its
 * environment variable. Programs add them to their own commander commands; keeping the list
 * here keeps the flags the same everywhere.
 */
export const CONNECTION_SECURITY_OPTIONS = [
  { flags: '--token <token>', env: 'JOBKEEP_TOKEN', description: 'bearer token for a server with authentication on (prefer --token-file)' },
  { flags: '--token-file <file>', env: 'JOBKEEP_TOKEN_FILE', description: 'file holding the bearer token' },
  { flags: '--tls-ca <file>', env: 'JOBKEEP_TLS_CA', description: 'CA certificate (PEM) of the server; connects over TLS' },
  { flags: '--tls-cert <file>', env: 'JOBKEEP_TLS_CERT', description: 'client certificate (PEM), for a server that requires one (mutual TLS)' },
  { flags: '--tls-key <file>', env: 'JOBKEEP_TLS_KEY', description: 'private key (PEM) of --tls-cert' },
] as const;
