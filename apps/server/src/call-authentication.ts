import type { DescMethod, Message } from '@bufbuild/protobuf';
import type { CallContext, RequestCheck } from '@jobkeep/api';
import { JobkeepError, notFound } from '@jobkeep/errors';
import type { LeaseStore } from '@jobkeep/store';
import { accessOf, mayUseLease, roleMay, usedLease, writtenNode, type Role } from './access-policy.js';

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
  /** Tells `listener` the id of every token revoked from now on. */
  onRevoked(listener: (id: string) => void): void;
}

/** The holders of the calls admitted so far, for handlers that record who asked (a lease's grant). */
const callers = new WeakMap<CallContext, TokenHolder>();

/** Who the call's token says the caller is; undefined when the server checks no tokens. */
export function callerOf(context: CallContext): TokenHolder | undefined {
  return callers.get(context);
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

/**
 * Admits a call when it carries `authorization: Bearer <token>` for an active token whose role
 * may call the method; a node-scoped token's writes must name one of its nodes, and use only
 * leases granted for its nodes (`mayUseLease`). No token, or one the server does not take, is
 * UNAUTHENTICATED; a token whose role or scope does not cover the call is PERMISSION_DENIED.
 * Which token failed, and why, is never told to the caller beyond that: a probe learns nothing
 * about which tokens exist. A revoke ends the token's open response streams at once.
 */
export function authenticateCalls(authority: TokenAuthority, leases: Pick<LeaseStore, 'ownerOf'>) {
  const streams = new StreamsByToken();
  authority.onRevoked((id) => streams.endAll(id, revokedWhileOpen()));
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
    callers.set(context, holder);
    // Watches, KeepAlive and the admin's streams (backup, export, compact, drain) last as long as
    // their callers like: a revoke ends them.
    if (method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming') streams.add(holder.id, context);
    const scoped = access === 'write' && holder.nodeIds.length > 0;
    // A stream of requests (KeepAlive, ImportDatabase) outlives the moment it was admitted: each
    // later message is admitted again, so that a revoked token stops keeping a lease alive.
    const streamed = method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming';
    if (!scoped && !streamed) return undefined;
    let admitted = false;
    return async (request) => {
      if (admitted && streamed && (await authority.authenticate(token)) === undefined) throw revokedWhileOpen();
      admitted = true;
      if (!scoped) return;
      const node = writtenNode(method, request);
      if (node !== undefined && !holder.nodeIds.includes(node)) {
        throw new JobkeepError('PERMISSION_DENIED', `this token may write the data of ${nodeList(holder.nodeIds)} only, not of ${JSON.stringify(node)}`);
      }
      await checkLeaseUse(leases, holder.nodeIds, method, request);
    };
  };
}

/**
 * Refuses a scoped token's use of a lease that is not its nodes'. The check is sound although it
 * runs before the handler: a lease's owner never changes, and an id is never reused, so a live
 * lease found here is the one the handler finds (or it has ended, which the handler reports). An
 * id no lease has had yet is refused here, as it may be granted to someone else by then.
 */
async function checkLeaseUse(leases: Pick<LeaseStore, 'ownerOf'>, nodeIds: readonly string[], method: DescMethod, request: Message): Promise<void> {
  const leaseId = usedLease(method, request);
  // Beyond what any lease id can be: the handler refuses it with the field's own message.
  if (leaseId === undefined || leaseId > BigInt(Number.MAX_SAFE_INTEGER)) return;
  const owner = await leases.ownerOf(Number(leaseId));
  if (owner === undefined) throw notFound(`lease ${leaseId} does not exist: it was never granted`);
  if (owner === 'ended' || mayUseLease(nodeIds, owner)) return;
  const whose = owner.kind === 'token' && owner.nodeIds.length > 0 ? `a token of ${nodeList(owner.nodeIds)}` : 'a token of every node';
  throw new JobkeepError('PERMISSION_DENIED', `lease ${leaseId} was granted to ${whose}; this token may use only leases of ${nodeList(nodeIds)}`);
}

function revokedWhileOpen(): JobkeepError {
  return new JobkeepError('UNAUTHENTICATED', 'the bearer token was revoked while this stream was open');
}

/** The open calls of each token whose responses stream, to end when the token is revoked. */
class StreamsByToken {
  private readonly open = new Map<string, Set<CallContext>>();

  add(tokenId: string, context: CallContext): void {
    let calls = this.open.get(tokenId);
    if (calls === undefined) this.open.set(tokenId, (calls = new Set()));
    calls.add(context);
    context.onEnded(() => {
      calls.delete(context);
      if (calls.size === 0 && this.open.get(tokenId) === calls) this.open.delete(tokenId);
    });
  }

  endAll(tokenId: string, reason: JobkeepError): void {
    for (const context of this.open.get(tokenId) ?? []) context.end(reason);
  }
}

function nodeList(nodeIds: readonly string[]): string {
  return `node${nodeIds.length === 1 ? '' : 's'} ${nodeIds.join(', ')}`;
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
