import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_LIMITS, readAccessTokensFile } from './access-tokens.js';
import { coordinationMigrations } from './coordination-schema.js';
import { migrate } from './migrations.js';
import { openSqlite } from './sqlite-connection.js';
import { openStorage } from './storage.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const TOKEN_TEXT = /^jk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

describe('SqliteAccessTokens', () => {
  const temp = useTempStorage();
  let time = 1_700_000_000_000;
  const open = () => temp.open({ clock: () => time }).accessTokens;

  it('creates a token whose text is shown once and authenticates as the stored token', async () => {
    const tokens = open();
    const { token, accessToken } = await tokens.create({ name: 'agent-7', role: 'agent', nodeIds: ['node-2', 'node-1', 'node-2'] });
    expect(token).toMatch(TOKEN_TEXT);
    expect(accessToken).toEqual({
      id: TOKEN_TEXT.exec(token)![1],
      name: 'agent-7',
      role: 'agent',
      nodeIds: ['node-1', 'node-2'],
      createdAt: new Date(time),
      revokedAt: undefined,
    });
    expect(await tokens.authenticate(token)).toEqual(accessToken);
    expect(await tokens.list()).toEqual([accessToken]);
  });

  it('never writes the secret to coordination.db or its log, only a 32-byte hash of it', async () => {
    const storage = temp.open();
    const { token, accessToken } = await storage.accessTokens.create({ name: 'root', role: 'admin' });
    const secret = token.slice(`jk_${accessToken.id}_`.length);
    for (const file of ['coordination.db', 'coordination.db-wal']) {
      const bytes = fs.readFileSync(path.join(temp.dir(), file));
      expect(bytes.includes(secret), file).toBe(false);
      expect(bytes.includes(Buffer.from(secret, 'base64url')), file).toBe(false);
    }
    const stored = storage.coordination.db.prepare('SELECT * FROM access_tokens').all() as Record<string, unknown>[];
    expect(stored).toHaveLength(1);
    expect(Object.values(stored[0]!).some((value) => typeof value === 'string' && value.includes(secret))).toBe(false);
    expect((stored[0]!.secret_hash as Buffer).length).toBe(32);
  });

  it('authenticates nothing malformed, unknown, with a wrong secret or revoked', async () => {
    const tokens = open();
    const { token, accessToken } = await tokens.create({ name: 'reader-1', role: 'reader' });
    const secret = token.slice(-43);
    const otherSecret = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const refused = [
      '',
      'jk_',
      token.slice(0, -1),
      `${token}x`,
      ` ${token}`,
      token.toUpperCase(),
      `Bearer ${token}`,
      `jk_${accessToken.id}_${otherSecret}`,
      `jk_0123456789abcdef_${secret}`,
      `xx_${accessToken.id}_${secret}`,
    ];
    for (const text of refused) expect(await tokens.authenticate(text), text).toBeUndefined();
    expect(await tokens.authenticate(token)).toEqual(accessToken);
    await tokens.revoke(accessToken.id);
    expect(await tokens.authenticate(token)).toBeUndefined();
  });

  it('never revokes the last active admin token, which alone can manage a server with tokens on', async () => {
    const tokens = open();
    const { accessToken: root } = await tokens.create({ name: 'root', role: 'admin' });
    expect(await rejection(tokens.revoke(root.id), 'FAILED_PRECONDITION')).toContain('the last active admin token');
    expect(await tokens.list()).toEqual([root]);
    const { accessToken: spare } = await tokens.create({ name: 'spare', role: 'admin' });
    expect((await tokens.revoke(root.id)).revokedAt).toBeDefined();
    expect(await rejection(tokens.revoke(spare.id), 'FAILED_PRECONDITION')).toContain('create another admin token');
  });

  it('revokes at once, keeps the first revoke time, and lists revoked tokens only when asked', async () => {
    const tokens = open();
    const told: string[] = [];
    tokens.onRevoked((id) => told.push(id));
    const { accessToken: first } = await tokens.create({ name: 'b-token', role: 'reader' });
    time += 1_000;
    const { accessToken: second } = await tokens.create({ name: 'a-token', role: 'agent' });
    expect((await tokens.list()).map((token) => token.name)).toEqual(['a-token', 'b-token']);

    time += 1_000;
    const revoked = await tokens.revoke(first.id);
    expect(revoked).toEqual({ ...first, revokedAt: new Date(time) });
    time += 1_000;
    expect(await tokens.revoke(first.id)).toEqual(revoked);
    expect(await tokens.list()).toEqual([second]);
    expect(await tokens.list({ includeRevoked: true })).toEqual([second, revoked]);

    expect(await rejection(tokens.revoke('0123456789abcdef'), 'NOT_FOUND')).toBe('access token 0123456789abcdef does not exist');
    expect(await rejection(tokens.revoke('root'), 'INVALID_ARGUMENT')).toContain('16 hex digits');
    // Listeners (the server, which ends the token's open streams) hear of each token once.
    expect(told).toEqual([first.id]);
  });

  it('keeps names unique among active tokens; a revoked name may be given again', async () => {
    const tokens = open();
    const { accessToken: old } = await tokens.create({ name: 'ci', role: 'agent' });
    expect(await rejection(tokens.create({ name: 'ci', role: 'reader' }), 'ALREADY_EXISTS')).toBe(
      `the active access token ${old.id} is already named ci: choose another name, or revoke that token first`,
    );
    await tokens.revoke(old.id);
    time += 1;
    const { accessToken: renewed } = await tokens.create({ name: 'ci', role: 'reader' });
    expect((await tokens.list({ includeRevoked: true })).map((token) => [token.id, token.name])).toEqual([
      [old.id, 'ci'],
      [renewed.id, 'ci'],
    ]);
  });

  it('checks every input and changes nothing when one is wrong', async () => {
    const tokens = open();
    const cases: [Parameters<typeof tokens.create>[0], string][] = [
      [{ name: '', role: 'admin' }, 'name is required'],
      [{ name: 'has space', role: 'admin' }, 'name "has space" is not valid'],
      [{ name: 'x'.repeat(129), role: 'admin' }, 'the limit is 128'],
      [{ name: 'ok', role: 'owner' as 'admin' }, 'role must be one of admin, agent, reader, not "owner"'],
      [{ name: 'ok', role: 'admin', nodeIds: ['node-1'] }, 'only agent tokens are scoped to nodes: role admin reaches every node'],
      [{ name: 'ok', role: 'reader', nodeIds: ['node-1'] }, 'role reader reaches every node'],
      [{ name: 'ok', role: 'agent', nodeIds: ['../etc'] }, 'node_id "../etc" is not valid'],
      [{ name: 'ok', role: 'agent', nodeIds: [''] }, 'node_id is required'],
      [{ name: 'ok', role: 'agent', nodeIds: Array.from({ length: ACCESS_TOKEN_LIMITS.maxNodeIds + 1 }, (_, i) => `n-${i}`) }, 'the limit is 1024'],
    ];
    for (const [input, message] of cases) expect(await rejection(tokens.create(input), 'INVALID_ARGUMENT')).toContain(message);
    expect(await tokens.list({ includeRevoked: true })).toEqual([]);
  });

  it('keeps tokens across a restart, and makes the first one in a data directory that did not exist', async () => {
    const dataDir = path.join(temp.root(), 'fresh', 'data');
    const first = openStorage({ dataDir });
    const { token, accessToken } = await first.accessTokens.create({ name: 'root', role: 'admin' });
    first.close();
    const again = openStorage({ dataDir });
    try {
      expect(await again.accessTokens.authenticate(token)).toEqual(accessToken);
    } finally {
      again.close();
    }
  });

  it('reads the tokens of a file read-only, beside the storage writing it, as list gives them', async () => {
    const tokens = open();
    const { accessToken: kept } = await tokens.create({ name: 'kept', role: 'reader' });
    const { accessToken: gone } = await tokens.create({ name: 'gone', role: 'agent', nodeIds: ['n-1'] });
    const revoked = await tokens.revoke(gone.id);
    const file = path.join(temp.dir(), 'coordination.db');
    expect(readAccessTokensFile(file)).toEqual([kept]);
    expect(readAccessTokensFile(file, { includeRevoked: true })).toEqual([revoked, kept]);
    expect(readAccessTokensFile(file, { includeRevoked: true })).toEqual(await tokens.list({ includeRevoked: true }));
  });

  it('reads no tokens, rather than failing, from a coordination.db older than tokens', () => {
    const file = path.join(temp.root(), 'coordination.db');
    const db = openSqlite(file, true);
    migrate(db, coordinationMigrations.slice(0, 3), file);
    db.close();
    expect(readAccessTokensFile(file, { includeRevoked: true })).toEqual([]);
  });
});
