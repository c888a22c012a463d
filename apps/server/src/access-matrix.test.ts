import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, type DescMethod, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AdminService,
  Health,
  HealthCheckResponse_ServingStatus,
  JobStore,
  LeaseService,
  createTypedClient,
} from '@jobkeep/api';
import { openStorage, type TokenRole } from '@jobkeep/store';
import * as grpc from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { methodsWithoutAccess } from './access-policy.js';
import { DataDirFingerprint } from './test-support/data-dir-fingerprint.js';
import { SERVED_SERVICES } from './jobkeep-server.js';
import { useTestServers } from './test-support/test-server.js';
import { next, type WatchStream } from './test-support/watch-helpers.js';

const SERVICES = SERVED_SERVICES;

// The expectations, written out here rather than read from access-policy.ts, so that a wrong line
// in the policy fails this test instead of being copied into it.
const READS: Record<string, string[]> = {
  JobStore: ['GetJob', 'ListJobs', 'GetJobHistory', 'ListExecutions', 'WatchJobs', 'ListQueueHolds', 'GetBatch', 'ListBatches', 'GetBatchReport'],
  ExecutionStore: ['GetExecution', 'ListExecutions', 'GetExecutionHistory', 'GetCounters', 'WatchExecutions'],
  CheckpointStore: ['GetCheckpoint', 'ListCheckpoints'],
  NodeRegistry: ['Get', 'List'],
  LeaseService: ['TimeToLive', 'List'],
  LockService: ['Get', 'List'],
  AdminService: [],
};
const isRead = (method: DescMethod) => READS[method.parent.name]!.includes(method.name);
const isAdminOnly = (method: DescMethod) => method.parent.name === 'AdminService' || (method.parent.name === 'LockService' && method.name === 'ForceRelease');
/** Writes of a node's database or registry entry: what a node-scoped token may do only for its nodes. */
const writesNodeData = (method: DescMethod) => ['JobStore', 'ExecutionStore', 'CheckpointStore', 'NodeRegistry'].includes(method.parent.name) && !isRead(method);

type Identity = 'none' | 'malformed' | 'unknown' | 'revoked' | 'reader' | 'agent' | 'agent of node-b' | 'admin';
type Outcome = 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'admitted';

function expected(identity: Identity, method: DescMethod): Outcome {
  switch (identity) {
    case 'none':
    case 'malformed':
    case 'unknown':
    case 'revoked':
      return 'UNAUTHENTICATED';
    case 'reader':
      return isRead(method) ? 'admitted' : 'PERMISSION_DENIED';
    case 'agent':
      return isAdminOnly(method) ? 'PERMISSION_DENIED' : 'admitted';
    case 'agent of node-b':
      return isAdminOnly(method) || writesNodeData(method) ? 'PERMISSION_DENIED' : 'admitted';
    case 'admin':
      return 'admitted';
  }
}

/** Every call names node-a, the node whose data the calls would change. */
function sampleRequest(method: DescMethod): MessageInitShape<DescMethod['input']> {
  const request: Record<string, unknown> = {};
  for (const field of method.input.fields) {
    if (field.localName === 'nodeId') request.nodeId = 'node-a';
    if (field.localName === 'node' && field.message?.fields.some((inner) => inner.localName === 'id')) {
      request.node = { id: 'node-a', address: '127.0.0.1:1' };
    }
  }
  return create(method.input, request);
}

/** Makes the call as `token` would, and says whether jobkeep refused it for who made it. */
async function attempt(address: string, service: DescService, method: DescMethod, token: string | undefined): Promise<{ outcome: Outcome; code: string }> {
  const client = createTypedClient(service, address, { token, defaultDeadlineMs: 2000 }) as unknown as Record<string, (...args: unknown[]) => unknown> & { close(): void };
  const request = sampleRequest(method);
  const once = async function* () {
    yield request;
  };
  // Streams that were admitted may run until their deadline; that they ran is what counts.
  const options = { deadlineMs: 1000 };
  let code = 'OK';
  try {
    const call = client[method.localName]!;
    if (method.methodKind === 'unary') await call(request);
    else if (method.methodKind === 'client_streaming') await call(once(), options);
    else for await (const _ of call(method.methodKind === 'server_streaming' ? request : once(), options) as AsyncIterable<unknown>) break;
  } catch (error) {
    code = (error as { code: string }).code;
  } finally {
    client.close();
  }
  return { outcome: code === 'UNAUTHENTICATED' || code === 'PERMISSION_DENIED' ? code : 'admitted', code };
}

describe('who may call what, with --auth token', () => {
  const servers = useTestServers();
  let root: string;
  const tokens = new Map<Identity, string | undefined>();

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-access-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Tokens made offline, as the first admin token must be, before the server holds the directory. */
  async function makeTokens(dataDir: string) {
    const storage = openStorage({ dataDir });
    const make = async (name: string, role: TokenRole, nodeIds?: string[]) => (await storage.accessTokens.create({ name, role, nodeIds })).token;
    try {
      tokens.set('admin', await make('root', 'admin'));
      tokens.set('agent', await make('agent', 'agent'));
      tokens.set('agent of node-b', await make('agent-b', 'agent', ['node-b']));
      tokens.set('reader', await make('reader', 'reader'));
      const revoked = await storage.accessTokens.create({ name: 'gone', role: 'admin' });
      await storage.accessTokens.revoke(revoked.accessToken.id);
      tokens.set('revoked', revoked.token);
      // The right shape and id of a real token, with another secret.
      tokens.set('unknown', `${revoked.token.slice(0, -6)}AAAAAA`);
      tokens.set('malformed', 'not a token');
      tokens.set('none', undefined);
    } finally {
      storage.close();
    }
  }

  it('has a line in the access table for every served method', () => {
    expect(methodsWithoutAccess(SERVICES)).toEqual([]);
  });

  /** A server with --auth token over a new data directory holding the tokens above. */
  async function startServer(): Promise<{ address: string; dataDir: string }> {
    const dataDir = fs.mkdtempSync(path.join(root, 'data-'));
    await makeTokens(dataDir);
    const server = await servers.start({ dataDir, auth: 'token' });
    return { address: server.server.address, dataDir };
  }

  it('refuses every call that the token does not allow, admits the rest, and changes nothing when it refuses', async () => {
    const { address, dataDir } = await startServer();
    // node-a has data that a refused write could change.
    const agent = createTypedClient(JobStore, address, { token: tokens.get('agent') });
    await agent.createJob({ nodeId: 'node-a', job: { name: 'first', queue: 'q' } });
    agent.close();

    const fingerprint = new DataDirFingerprint(dataDir);
    const before = fingerprint.take();
    const refused: string[] = [];
    const wrong: string[] = [];
    for (const identity of tokens.keys()) {
      for (const service of SERVICES) {
        for (const method of service.methods) {
          if (expected(identity, method) === 'admitted') continue;
          const { outcome, code } = await attempt(address, service, method, tokens.get(identity));
          refused.push(`${identity} ${method.name}`);
          if (outcome !== expected(identity, method)) wrong.push(`${identity} ${service.name}/${method.name}: ${code}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(fingerprint.take()).toEqual(before);
    fingerprint.close();
    expect(refused.length).toBeGreaterThan(4 * 60);

    for (const identity of ['reader', 'agent', 'agent of node-b', 'admin'] as const) {
      const admitted = await Promise.all(
        SERVICES.flatMap((service) =>
          service.methods
            .filter((method) => expected(identity, method) === 'admitted')
            .map(async (method) => ({ method: `${service.name}/${method.name}`, ...(await attempt(address, service, method, tokens.get(identity))) })),
        ),
      );
      expect(admitted.filter((call) => call.outcome !== 'admitted').map((call) => `${identity} ${call.method}: ${call.code}`)).toEqual([]);
    }
  });

  it('lets a node-scoped agent write its own nodes', async () => {
    const { address } = await startServer();
    const client = createTypedClient(JobStore, address, { token: tokens.get('agent of node-b') });
    const { job } = await client.createJob({ nodeId: 'node-b', job: { name: 'mine' } });
    expect(job?.name).toBe('mine');
    await expect(client.createJob({ nodeId: 'node-a', job: { name: 'theirs' } })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('node-b'),
    });
    client.close();
  });

  it('ends a keep-alive stream at its next message once its token is revoked', async () => {
    const { address } = await startServer();
    const agentToken = tokens.get('agent');
    const leases = createTypedClient(LeaseService, address, { token: agentToken });
    const { lease } = await leases.grant({ ttlSeconds: 30n });
    const sends: ((value: { leaseId: bigint }) => void)[] = [];
    async function* keepAlives() {
      for (;;) yield await new Promise<{ leaseId: bigint }>((resolve) => sends.push(resolve));
    }
    const replies = leases.keepAlive(keepAlives())[Symbol.asyncIterator]();
    // The call starts, and pulls a request, once its replies are asked for.
    const send = async () => {
      const reply = replies.next();
      while (sends.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      sends.shift()!({ leaseId: lease!.id });
      return reply;
    };
    expect((await send()).value).toMatchObject({ leaseId: lease!.id });
    expect((await send()).value).toMatchObject({ leaseId: lease!.id });

    const admin = createTypedClient(AdminService, address, { token: tokens.get('admin') });
    const agent = (await admin.listAccessTokens({})).accessTokens.find((token) => token.name === 'agent')!;
    await admin.revokeAccessToken({ id: agent.id });
    await expect(send()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'the bearer token was revoked while this stream was open' });
    admin.close();
    leases.close();
  });

  it("ends a token's open watches the moment it is revoked, and no other token's", async () => {
    const { address } = await startServer();
    const agentClient = createTypedClient(JobStore, address, { token: tokens.get('agent') });
    const readerClient = createTypedClient(JobStore, address, { token: tokens.get('reader') });
    const admin = createTypedClient(AdminService, address, { token: tokens.get('admin') });
    const writer = createTypedClient(JobStore, address, { token: tokens.get('admin') });
    const agentWatch = agentClient.watchJobs({ nodeId: 'node-a', fromRevision: 1n }, { deadlineMs: 60_000 })[Symbol.asyncIterator]();
    const readerWatch = readerClient.watchJobs({ nodeId: 'node-a', fromRevision: 1n }, { deadlineMs: 60_000 })[Symbol.asyncIterator]();
    const first = await writer.createJob({ nodeId: 'node-a', job: { name: 'seen-by-both' } });
    for (const watch of [agentWatch, readerWatch]) expect(await nextEvent(watch)).toMatchObject({ jobId: first.job!.id });

    // The agent's watch has nothing more to send but progress reports; the revoke ends it.
    const agent = (await admin.listAccessTokens({})).accessTokens.find((token) => token.name === 'agent')!;
    await admin.revokeAccessToken({ id: agent.id });
    await expect(nextEvent(agentWatch)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'the bearer token was revoked while this stream was open' });

    const second = await writer.createJob({ nodeId: 'node-a', job: { name: 'seen-by-the-reader' } });
    expect(await nextEvent(readerWatch)).toMatchObject({ jobId: second.job!.id });
    await readerWatch.return?.();
    for (const client of [agentClient, readerClient, admin, writer]) client.close();
  });

  it('keeps health and reflection open to callers without a token', async () => {
    const { address } = await startServer();
    const health = createTypedClient(Health, address);
    expect((await health.check({ service: 'jobkeep.v1.JobStore' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    health.close();
    const reflection = new GrpcReflection(address, grpc.credentials.createInsecure());
    expect(await reflection.listServices()).toEqual(expect.arrayContaining(['jobkeep.v1.JobStore', 'grpc.health.v1.Health']));
  });
});

/** The next job event of a watch, past its progress reports. */
async function nextEvent(watch: WatchStream): Promise<unknown> {
  for (;;) {
    const message = await next(watch);
    if (message.kind.case === 'event') return message.kind.value;
  }
}
