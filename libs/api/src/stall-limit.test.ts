import { JobkeepError } from '@jobkeep/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { implementService } from './service-implementation.js';
import { Echo } from './test-support/echo-service.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';
import { createTypedClient, type TypedClient } from './typed-client.js';

/*
 * A stream whose handler set a stall limit (CallContext.limitStall) ends with the handler's
 * error once the client has read nothing for that long, after the messages already written.
 */
describe('implementService, stall limit', () => {
  let server: TestServer | undefined;
  let echo: TypedClient<typeof Echo> | undefined;
  afterEach(() => {
    echo?.close();
    server?.stop();
  });

  async function serveRepeat(stallTimeoutMs: number | undefined) {
    let produced = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    server = await startTestServer((grpcServer) =>
      grpcServer.addService(
        grpcServiceDefinition(Echo),
        implementService(Echo, {
          async *repeat({ value }, context) {
            if (stallTimeoutMs !== undefined) {
              context.limitStall(stallTimeoutMs, () => new JobkeepError('RESOURCE_EXHAUSTED', `stopped reading after message ${produced}`));
            }
            try {
              for (;;) {
                produced++;
                yield { value: `${produced} ${value}` };
              }
            } finally {
              finish();
            }
          },
        }),
      ),
    );
    echo = createTypedClient(Echo, server.address);
    return { finished, produced: () => produced };
  }

  it('ends a stream the client stopped reading with the handler’s error, after what was written', async () => {
    const { finished, produced } = await serveRepeat(100);
    const stream = echo!.repeat({ value: 'x'.repeat(16 * 1024) })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.value).toMatch(/^1 /);
    // Not reading: the handler stops at the full buffer, then gives up after the limit.
    await finished;

    const received = [1];
    let failure: unknown;
    try {
      for (let next = await stream.next(); !next.done; next = await stream.next()) received.push(Number(next.value.value.split(' ')[0]));
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(JobkeepError);
    expect(failure).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: `stopped reading after message ${produced()}` });
    // Every message the handler produced arrived, in order, before the status: none was lost.
    expect(received).toEqual(Array.from({ length: produced() }, (_, index) => index + 1));
    // Flow control held the handler back: it did not produce without end.
    expect(produced()).toBeLessThan(100);
  });
});
