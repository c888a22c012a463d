import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import { readSnapshot } from './database-tables.js';
import { checkIdentifier, checkNodeId } from './identifiers.js';

/** admin: everything; agent: reads and writes of stores, leases, locks and the registry; reader: reads. */
export type TokenRole = 'admin' | 'agent' | 'reader';

export const TOKEN_ROLES: readonly TokenRole[] = ['admin', 'agent', 'reader'];

/** A bearer token as stored: everything but its secret, which is never stored. */
export interface AccessToken {
  /** Public: it names the token in lists, logs and `revoke`, and is part of the token's text. */
  id: string;
  /** Unique among active tokens; a revoked token's name may be given again. */
  name: string;
  role: TokenRole;
  /** The only nodes whose databases an agent token may write, sorted; empty for every node. */
  nodeIds: string[];
  createdAt: Date;
  /** Undefined while the token is active. */
  revokedAt: Date | undefined;
}

export interface NewAccessToken {
  name: string;
  role: TokenRole;
  /** Agent tokens only; none means every node. */
  nodeIds?: string[];
}

/** The bearer tokens of coordination.db. */
export interface AccessTokens {
  /**
   * Makes a token and returns its text, the only time it exists anywhere: only a hash of its
   * secret is stored. A name held by another active token is ALREADY_EXISTS.
   */
  create(input: NewAccessToken): Promise<{ token: string; accessToken: AccessToken }>;
  /** Active tokens, or all with `includeRevoked`, by name then age. */
  list(options?: { includeRevoked?: boolean }): Promise<AccessToken[]>;
  /** Ends a token at once; NOT_FOUND for an unknown id. Revoking twice keeps the first revoke time. */
  revoke(id: string): Promise<AccessToken>;
  /** The active token the text names, or undefined when malformed, unknown, revoked or with a wrong secret. */
  authenticate(token: string): Promise<AccessToken | undefined>;
  /** Tells `listener` the id of every token revoked from now on, once its revoke has committed (once per token). */
  onRevoked(listener: (id: string) => void): void;
}

export const ACCESS_TOKEN_LIMITS = {
  /** Node ids one agent token may be scoped to; its row is read on every call it makes. */
  maxNodeIds: 1024,
} as const;

/*
 * A token's text is `jk_<id>_<secret>`: the prefix makes a leaked token recognisable to secret
 * scanners and people; the id (16 hex digits, 64 random bits, never `_`) finds its row by
 * primary key; the secret is 32 random bytes in unpadded base64url (43 characters, which may
 * include `_`: the id's fixed length is what splits the text).
 */
const TOKEN_PREFIX = 'jk_';
const ID_BYTES = 8;
const SECRET_BYTES = 32;
const TOKEN_ID = /^[0-9a-f]{16}$/;
const TOKEN_TEXT = /^jk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const COLUMNS = 'id, name, role, node_ids, create_time, revoke_time';
const SELECT_BY_ID = `SELECT ${COLUMNS} FROM access_tokens WHERE id = ?`;
const SELECT_FOR_AUTHENTICATION = `SELECT ${COLUMNS}, secret_hash FROM access_tokens WHERE id = ?`;

interface TokenRow {
  id: string;
  name: string;
  role: TokenRole;
  node_ids: string;
  create_time: number;
  revoke_time: number | null;
}

/**
 * Access tokens on coordination.db. A secret is 256 random bits, so one SHA-256 is as safe to
 * store as any hash: slow password hashes (scrypt, argon2) exist for low-entropy passwords an
 * attacker could enumerate, and would only make `authenticate`, which runs on every call, slow.
 * Nothing is cached: a revoke takes effect on the very next call.
 */
export class SqliteAccessTokens implements AccessTokens {
  private readonly revokeListeners: ((id: string) => void)[] = [];

  constructor(
    private readonly db: CoordinationDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: NewAccessToken): Promise<{ token: string; accessToken: AccessToken }> {
    const { name, role, nodeIds } = checkNewAccessToken(input);
    // 64 random bits: a clash is not expected among any number of tokens a cluster would make,
    // and the primary key would refuse one rather than overwrite a token.
    const id = randomBytes(ID_BYTES).toString('hex');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const createTime = this.now();
    await this.db.write(() => {
      const holder = this.db.statement('SELECT id FROM access_tokens WHERE name = ? AND revoke_time IS NULL').get(name) as { id: string } | undefined;
      if (holder !== undefined) {
        throw alreadyExists(`the active access token ${holder.id} is already named ${name}: choose another name, or revoke that token first`);
      }
      this.db
        .statement('INSERT INTO access_tokens (id, name, role, node_ids, secret_hash, create_time, revoke_time) VALUES (?, ?, ?, ?, ?, ?, NULL)')
        .run(id, name, role, JSON.stringify(nodeIds), hashSecret(secret), createTime);
    });
    return {
      token: `${TOKEN_PREFIX}${id}_${secret}`,
      accessToken: { id, name, role, nodeIds, createdAt: new Date(createTime), revokedAt: undefined },
    };
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<AccessToken[]> {
    const rows = await this.db.readCommitted(() => this.db.statement(listSql(options.includeRevoked)).all() as TokenRow[]);
    return rows.map(tokenFromRow);
  }

  async revoke(id: string): Promise<AccessToken> {
    const checked = checkTokenId(id);
    const { token, newlyRevoked } = await this.db.write(() => {
      const before = this.db.statement(SELECT_BY_ID).get(checked) as TokenRow | undefined;
      if (before === undefined) throw notFound(`access token ${checked} does not exist`);
      // Without an admin token, a server with --auth token could neither be managed nor restarted.
      if (before.role === 'admin' && before.revoke_time === null && this.activeAdmins() === 1) {
        throw failedPrecondition(`access token ${checked} is the last active admin token: create another admin token before revoking it`);
      }
      this.db.statement('UPDATE access_tokens SET revoke_time = ? WHERE id = ? AND revoke_time IS NULL').run(this.now(), checked);
      return { token: tokenFromRow(this.db.statement(SELECT_BY_ID).get(checked) as TokenRow), newlyRevoked: before.revoke_time === null };
    });
    if (newlyRevoked) for (const listener of this.revokeListeners) listener(checked);
    return token;
  }

  onRevoked(listener: (id: string) => void): void {
    this.revokeListeners.push(listener);
  }

  private activeAdmins(): number {
    return (this.db.statement("SELECT count(*) AS n FROM access_tokens WHERE role = 'admin' AND revoke_time IS NULL").get() as { n: number }).n;
  }

  async authenticate(token: string): Promise<AccessToken | undefined> {
    const match = TOKEN_TEXT.exec(token);
    if (match === null) return undefined;
    // Not awaiting the open group commit: a token whose create has not committed yet is one
    // nobody has been told, and a revoke not committed yet can only refuse a call early.
    const row = this.db.statement(SELECT_FOR_AUTHENTICATION).get(match[1]) as (TokenRow & { secret_hash: Buffer }) | undefined;
    if (row === undefined || row.revoke_time !== null) return undefined;
    // In constant time, so that how long a refusal takes tells nothing of how close a guess came.
    if (!timingSafeEqual(hashSecret(match[2]!), row.secret_hash)) return undefined;
    return tokenFromRow(row);
  }
}

/**
 * The access tokens of a coordination.db file, read-only in one snapshot, as `list` gives them:
 * for the admin tool when no server runs. A file from before tokens existed has none.
 */
export function readAccessTokensFile(coordinationFile: string, options: { includeRevoked?: boolean } = {}): AccessToken[] {
  return readSnapshot(coordinationFile, (db) => {
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'access_tokens'").get() === undefined) return [];
    return db.prepare(listSql(options.includeRevoked)).all().map((row) => tokenFromRow(row as TokenRow));
  });
}

function listSql(includeRevoked: boolean | undefined): string {
  return `SELECT ${COLUMNS} FROM access_tokens ${includeRevoked === true ? '' : 'WHERE revoke_time IS NULL'} ORDER BY name, create_time, id`;
}

/**
 * The token to create, checked (INVALID_ARGUMENT) and with its node ids without repeats and
 * sorted. `create` checks its input itself; this lets the admin tool refuse bad input before it
 * creates a data directory for a token.
 */
export function checkNewAccessToken(input: NewAccessToken): Required<NewAccessToken> {
  const name = checkIdentifier('name', input.name);
  const role = checkRole(input.role);
  return { name, role, nodeIds: checkNodeScope(role, input.nodeIds ?? []) };
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function checkRole(role: string): TokenRole {
  if (!TOKEN_ROLES.includes(role as TokenRole)) throw invalidArgument(`role must be one of ${TOKEN_ROLES.join(', ')}, not ${JSON.stringify(role)}`);
  return role as TokenRole;
}

/** The node ids, checked, without repeats and sorted. */
function checkNodeScope(role: TokenRole, nodeIds: readonly string[]): string[] {
  if (nodeIds.length === 0) return [];
  if (role !== 'agent') {
    throw invalidArgument(`only agent tokens are scoped to nodes: role ${role} reaches every node, so give it no node ids`);
  }
  const unique = [...new Set(nodeIds.map(checkNodeId))].sort();
  if (unique.length > ACCESS_TOKEN_LIMITS.maxNodeIds) {
    throw invalidArgument(`a token is scoped to ${unique.length} node ids; the limit is ${ACCESS_TOKEN_LIMITS.maxNodeIds}: give such an agent a token for every node`);
  }
  return unique;
}

export function checkTokenId(id: string): string {
  if (!TOKEN_ID.test(id)) {
    throw invalidArgument(`access token id ${JSON.stringify(id)} is not valid: an id is 16 hex digits, as tokens list shows it`);
  }
  return id;
}

function tokenFromRow(row: TokenRow): AccessToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    nodeIds: JSON.parse(row.node_ids) as string[],
    createdAt: new Date(row.create_time),
    revokedAt: row.revoke_time === null ? undefined : new Date(row.revoke_time),
  };
}
