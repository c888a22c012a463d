import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  TokenRole,
  type AccessTokenSchema,
  type CreateAccessTokenRequest,
  type ListAccessTokensRequest,
  type RevokeAccessTokenRequest,
} from '@jobkeep/api';
import { invalidArgument } from '@jobkeep/errors';
import type { AccessToken, AccessTokens, TokenRole as StoreTokenRole } from '@jobkeep/store';
import { enumName, enumValue, timestamp } from './wire-conversions.js';

/**
 * The access-token RPCs of jobkeep.v1.AdminService. A token's text leaves the server once, in
 * the CreateAccessToken response; nothing here logs a request or a response.
 */
export function accessTokenHandlers(tokens: AccessTokens) {
  return {
    async createAccessToken(request: CreateAccessTokenRequest) {
      const role = enumName<Uppercase<StoreTokenRole>>(TokenRole, request.role, 'role');
      if (role === undefined) throw invalidArgument('role is required: TOKEN_ROLE_ADMIN, TOKEN_ROLE_AGENT or TOKEN_ROLE_READER');
      const { token, accessToken } = await tokens.create({ name: request.name, role: role.toLowerCase() as StoreTokenRole, nodeIds: request.nodeIds });
      return { token, accessToken: accessTokenToWire(accessToken) };
    },

    async listAccessTokens(request: ListAccessTokensRequest) {
      return { accessTokens: (await tokens.list({ includeRevoked: request.includeRevoked })).map(accessTokenToWire) };
    },

    async revokeAccessToken(request: RevokeAccessTokenRequest) {
      return { accessToken: accessTokenToWire(await tokens.revoke(request.id)) };
    },
  };
}

function accessTokenToWire(token: AccessToken): MessageInitShape<typeof AccessTokenSchema> {
  return {
    id: token.id,
    name: token.name,
    role: enumValue<TokenRole>(TokenRole, token.role.toUpperCase()),
    nodeIds: token.nodeIds,
    createTime: timestamp(token.createdAt.getTime()),
    revokeTime: token.revokedAt === undefined ? undefined : timestamp(token.revokedAt.getTime()),
  };
}
