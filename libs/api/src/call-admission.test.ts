import { JobkeepError } from '@jobkeep/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { implementService, type CallAdmission } from './service-implementation.js';
import { Echo } from './test-support/echo-service.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';
import { createTypedClient } from './typed-client.js';

// What the admission hook saw, and what the handlers were given, so that a test can tell a
// refused call (the handler never ran) from a failed one.
const seenAuthorizations: Array<string | undefined> = [];
const handled: string[] = [];

/** Admits calls that carry `authorization: Bearer open-sesame`; requests must not say "forbidden". */
const admit: CallAdmission = async (method, context) => {
  const authorization = context.metadata.get('authorization')[0]?.toString();
  seenAuthorizations.push(authorization);
  if (authorization !== 'Bearer open-sesame') throw new JobkeepError('UNAUTHENTICATED', `${method.name} needs a token`);
  return (request) => {
    if ((request as { value?: string }).value === 'forbidden') throw new JobkeepError('PERMISSION_DENIED', 'not that one');
  };
};

let server: TestServer;
const client = (token?: string) => createTypedClient(Echo, server.address, { token, defaultDeadlineMs: 5_000 });

async function* strings(...values: string[]) {
  for (const value of values) yield { value };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) all.push(item);
  return all;
}

beforeAll(async () => {
  server = await startTestServer((grpcServer) =>
    grpcServer.addService(
      grpcServiceDefinition(Echo),
      implementService(
        Echo,
        {
          async *repeat({ value }) {
            handled.push(`repeat ${value}`);
            yield { value };
          },
          async concat(requests) {
            const values: string[] = [];
            for await (const { value } of requests) {
              handled.push(`concat ${value}`);
              values.push(value);
            }
            return { value: values.join('+') };
          },
        },
        { admit },
      ),
    ),
  );
});

afterAll(() => server?.stop());

describe('call admission', () => {
  it('refuses a call before its handler runs, with the status the hook threw', async () => {
    handled.length = 0;
    await expect(collect(client().repeat({ value: 'a' }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'Repeat needs a token' });
    await expect(collect(client('wrong').repeat({ value: 'a' }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(handled).toEqual([]);
  });

  it('sends the client token as bearer metadata, and admits the call', async () => {
    seenAuthorizations.length = 0;
    expect(await collect(client('open-sesame').repeat({ value: 'hello' }))).toEqual([expect.objectContaining({ value: 'hello' })]);
    expect(seenAuthorizations).toEqual(['Bearer open-sesame']);
  });

  it('checks the request of a server-streaming call before the handler sees it', async () => {
    handled.length = 0;
    await expect(collect(client('open-sesame').repeat({ value: 'forbidden' }))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(handled).toEqual([]);
  });

  it('checks every streamed request: the handler sees those before a refused one, never it', async () => {
    handled.length = 0;
    expect(await client('open-sesame').concat(strings('a', 'b'))).toMatchObject({ value: 'a+b' });
    await expect(client('open-sesame').concat(strings('c', 'forbidden', 'd'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: 'not that one' });
    expect(handled).toEqual(['concat a', 'concat b', 'concat c']);
  });
});

describe('bearer tokens on the client', () => {
  it('refuses to send a token in clear to anything but a loopback address', () => {
    expect(() => createTypedClient(Echo, '10.0.0.7:7420', { token: 'jk_secret' })).toThrow(/refusing to send a bearer token to 10.0.0.7:7420 without TLS/);
    expect(() => createTypedClient(Echo, 'jobkeep.internal:7420', { token: 'jk_secret' })).toThrow(/--tls-ca/);
    for (const target of ['127.0.0.1:7420', 'localhost:7420', '[::1]:7420']) createTypedClient(Echo, target, { token: 'jk_secret' }).close();
  });
});
