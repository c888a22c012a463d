import type { DescMethod } from '@bufbuild/protobuf';
import type { CallContext, RequestCheck } from '@jobkeep/api';
import { JobkeepError } from '@jobkeep/errors';
import { accessOf, roleMay, writtenNode, type Role } from './access-policy.js';

/** Who a valid token says the caller is. */
export interface TokenHolder {
  id: string;
  role: Role;
  /** The nodes whose data an agent token may write; empty for every node. */
  nodeIds: readonly string[];
}

export interface TokenAuthority {
  /** The active token the text names; undefined when it is malformed, unknown, revoked or wrong. */
  authenticate(token: string): Promise<TokenHolder | undefined>;
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

/**
 * Admits a call when it carries `authorization: Bearer <token>` for an active token whose role
 * may call the method; a node-scoped token's writes must name one of its nodes. No token, or
 * one the server does not take, is UNAUTHENTICATED; a token whose role or scope does not cover
 * the call is PERMISSION_DENIED. Which token failed, and why, is never told to the caller
 * beyond that: a probe learns nothing about which tokens exist.
 */
export function authenticateCalls(authority: TokenAuthority) {
  return async (method: DescMethod, context: CallContext): Promise<RequestCheck | undefined> => {
    const token = bearerToken(context);
    const holder = await authority.authenticate(token);
    if (holder === undefined) {
      throw new JobkeepError('UNAUTHENTICATED', 'the bearer token is not valid: it is unknown, revoked or mistyped');
    }
    const access = accessOf(method);
    if (access === undefined || !roleMay(holder.role, access)) {
      throw new JobkeepError('PERMISSION_DENIED', `a ${holder.role} token may not call ${method.parent.typeName}/${method.name}`);
    }
    const scoped = access === 'write' && holder.nodeIds.length > 0;
    // A stream of requests (KeepAlive, ImportDatabase) outlives the moment it was admitted: each
    // later message is admitted again, so that a revoked token stops keeping a lease alive.
    const streamed = method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming';
    if (!scoped && !streamed) return undefined;
    let admitted = false;
    return async (request) => {
      if (admitted && streamed && (await authority.authenticate(token)) === undefined) {
        throw new JobkeepError('UNAUTHENTICATED', 'the bearer token was revoked while this stream was open');
      }
      admitted = true;
      const node = scoped ? writtenNode(method, request) : undefined;
      if (node !== undefined && !holder.nodeIds.includes(node)) {
        const nodes = `node${holder.nodeIds.length === 1 ? '' : 's'} ${holder.nodeIds.join(', ')}`;
        throw new JobkeepError('PERMISSION_DENIED', `this token may write the data of ${nodes} only, not of ${JSON.stringify(node)}`);
      }
    };
  };
}

function bearerToken(context: CallContext): string {
  const values = context.metadata.get('authorization');
  if (values.length === 0) {
    throw new JobkeepError('UNAUTHENTICATED', 'this server requires a bearer token: send "authorization: Bearer <token>" metadata (jobkeep-admin tokens create makes one)');
  }
  const match = values.length === 1 ? BEARER.exec(values[0]!.toString()) : null;
  if (match === null) throw new JobkeepError('UNAUTHENTICATED', 'the authorization metadata must be one "Bearer <token>"');
  return match[1]!;
}
