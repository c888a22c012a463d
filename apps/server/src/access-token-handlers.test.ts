import { toBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ListAccessTokensResponseSchema, RevokeAccessTokenResponseSchema, TokenRole } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { useAdminServers } from './test-support/admin-clients.js';
import { failsWith } from './test-support/fails-with.js';

const TOKEN_TEXT = /^jk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

describe('jobkeep.v1.AdminService over gRPC: access tokens', () => {
  const servers = useAdminServers();

  it("creates a token, sends its text once, and the server's store authenticates that text", async () => {
    const { admin, server } = await servers.start();
    const before = Date.now();
    const created = await admin.createAccessToken({ name: 'agent-7', role: TokenRole.AGENT, nodeIds: ['node-2', 'node-1'] });
    const [, id] = TOKEN_TEXT.exec(created.token)!;
    expect(created.accessToken).toMatchObject({ id, name: 'agent-7', role: TokenRole.AGENT, nodeIds: ['node-1', 'node-2'] });
    expect(created.accessToken!.revokeTime).toBeUndefined();
    expect(timestampDate(created.accessToken!.createTime!).getTime()).toBeGreaterThanOrEqual(before);
    expect(await server.storage.accessTokens.authenticate(created.token)).toMatchObject({ id, name: 'agent-7', role: 'agent', nodeIds: ['node-1', 'node-2'] });

    const { accessTokens } = await admin.listAccessTokens({});
    expect(accessTokens).toEqual([created.accessToken]);
  });

  it('never sends a secret again: not in lists, not in revokes', async () => {
    const { admin } = await servers.start();
    const { token, accessToken } = await admin.createAccessToken({ name: 'agent', role: TokenRole.AGENT });
    const secret = Buffer.from(TOKEN_TEXT.exec(token)![2]!);
    const listed = toBinary(ListAccessTokensResponseSchema, await admin.listAccessTokens({ includeRevoked: true }));
    const revoked = toBinary(RevokeAccessTokenResponseSchema, await admin.revokeAccessToken({ id: accessToken!.id }));
    expect(Buffer.from(listed).includes(secret)).toBe(false);
    expect(Buffer.from(revoked).includes(secret)).toBe(false);
  });

  it('revokes at once and keeps the first revoke time; lists revoked tokens only when asked', async () => {
    const { admin, server } = await servers.start();
    const reader = await admin.createAccessToken({ name: 'dashboard', role: TokenRole.READER });
    const agent = await admin.createAccessToken({ name: 'agent-1', role: TokenRole.AGENT });
    const { accessToken: revoked } = await admin.revokeAccessToken({ id: reader.accessToken!.id });
    expect(revoked).toMatchObject({ id: reader.accessToken!.id, name: 'dashboard', role: TokenRole.READER });
    expect(revoked!.revokeTime).toBeDefined();
    expect(await server.storage.accessTokens.authenticate(reader.token)).toBeUndefined();
    expect((await admin.revokeAccessToken({ id: reader.accessToken!.id })).accessToken).toEqual(revoked);

    expect((await admin.listAccessTokens({})).accessTokens).toEqual([agent.accessToken]);
    expect((await admin.listAccessTokens({ includeRevoked: true })).accessTokens).toEqual([agent.accessToken, revoked]);
  });

  it('refuses bad requests with a precise status, and creates nothing', async () => {
    const { admin } = await servers.start();
    await admin.createAccessToken({ name: 'ci', role: TokenRole.AGENT });
    const refusals: [Parameters<typeof admin.createAccessToken>[0], ReturnType<typeof failsWith>][] = [
      [{ name: 'x', role: TokenRole.UNSPECIFIED }, failsWith('INVALID_ARGUMENT', 'role is required')],
      [{ name: 'x', role: 9 as TokenRole }, failsWith('INVALID_ARGUMENT', 'role has no value 9')],
      [{ name: '', role: TokenRole.READER }, failsWith('INVALID_ARGUMENT', 'name is required')],
      [{ name: 'x', role: TokenRole.ADMIN, nodeIds: ['node-1'] }, failsWith('INVALID_ARGUMENT', 'only agent tokens are scoped to nodes')],
      [{ name: 'x', role: TokenRole.AGENT, nodeIds: ['../etc'] }, failsWith('INVALID_ARGUMENT', 'node_id', '../etc')],
      [{ name: 'ci', role: TokenRole.READER }, failsWith('ALREADY_EXISTS', 'already named ci')],
    ];
    for (const [request, failure] of refusals) await expect(admin.createAccessToken(request)).rejects.toEqual(failure);
    expect((await admin.listAccessTokens({ includeRevoked: true })).accessTokens.map((token) => token.name)).toEqual(['ci']);

    await expect(admin.revokeAccessToken({ id: '0123456789abcdef' })).rejects.toEqual(failsWith('NOT_FOUND', '0123456789abcdef'));
    await expect(admin.revokeAccessToken({ id: '' })).rejects.toEqual(failsWith('INVALID_ARGUMENT', 'access token id'));
  });
});
