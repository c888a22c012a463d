import { JobStore, type ServiceHandlers, type WatchJobsResponse } from '@jobkeep/api';
import { JobkeepError, type StatusCodeName } from '@jobkeep/errors';
import { describe, expect, it, vi } from 'vitest';
import { createJobStoreClient, watchJobs, type JobStoreClient } from './index.js';
import { useScriptedServers } from './test-support/scripted-servers.js';

/*
 * The iterator's own behaviour (where it resumes, what it retries, how it stops) is checked
 * against a real gRPC server whose WatchJobs handler plays a script; the watch itself, over a
 * real store and through real restarts, is exercised in apps/server's tests.
 */

const event = (revision: number) => ({ kind: { case: 'event' as const, value: { revision: BigInt(revision), jobId: `j-${revision}` } } });
const progress = (revision: number) => ({ kind: { case: 'progress' as const, value: { revision: BigInt(revision) } } });

/** What the iterator yielded, as `e5` for an event and `p9` for a progress report. */
const shorthand = (message: WatchJobsResponse) =>
  message.kind.case === 'event' ? `e${message.kind.value.revision}` : `p${message.kind.value?.revision}`;

describe('watchJobs', () => {
  const serveScripted = useScriptedServers();
  const serve = (handlers: ServiceHandlers<typeof JobStore>): Promise<JobStoreClient> =>
    serveScripted(JobStore, handlers, (target) => createJobStoreClient(target));

  it('resumes after the last revision seen through every transient failure, yielding each event once', async () => {
    const requested: bigint[] = [];
    let handlerEnded = false;
    const client = await serve({
      async *watchJobs(request, { signal }) {
        requested.push(request.fromRevision);
        switch (requested.length) {
          case 1: // from now on: the opening report counts as seen
            yield* [progress(3), event(4), event(5)];
            throw new JobkeepError('UNAVAILABLE', 'the server is shutting down');
          case 2: // a replay opens with where it will catch up: not yet seen
            yield* [progress(9), event(6), event(7)];
            throw new JobkeepError('RESOURCE_EXHAUSTED', 'watcher stopped reading; resume with from_revision 8');
          case 3:
            yield* [progress(9), event(8), event(9), progress(9)];
            throw new JobkeepError('CANCELLED', 'stream reset by the server');
          default:
            try {
              yield* [progress(12), event(10), event(11), event(12), progress(12)];
              await new Promise((resolve) => signal.addEventListener('abort', resolve));
            } finally {
              handlerEnded = true;
            }
        }
      },
    });
    const retried: [StatusCodeName, bigint][] = [];
    const seen: string[] = [];
    for await (const message of watchJobs(client, { nodeId: 'n' }, { initialBackoffMs: 1, onRetry: (error, from) => retried.push([error.code, from]) })) {
      seen.push(shorthand(message));
      if (seen.at(-1) === 'p12') break;
    }
    expect(seen).toEqual(['p3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'p9', 'e10', 'e11', 'e12', 'p12']);
    expect(requested).toEqual([0n, 6n, 8n, 10n]);
    expect(retried).toEqual([
      ['UNAVAILABLE', 6n],
      ['RESOURCE_EXHAUSTED', 8n],
      ['CANCELLED', 10n],
    ]);
    // Leaving the loop cancelled the call.
    await vi.waitFor(() => expect(handlerEnded).toBe(true));
  });

  it.each(['OUT_OF_RANGE', 'INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION'] as const)('throws %s at once, without retrying', async (code) => {
    let attempts = 0;
    const client = await serve({
      // eslint-disable-next-line require-yield
      async *watchJobs() {
        attempts++;
        throw new JobkeepError(code, 'revision 5 has been compacted; the oldest available revision is 42');
      },
    });
    const watching = (async () => {
      for await (const _message of watchJobs(client, { nodeId: 'n', fromRevision: 5n }, { initialBackoffMs: 1 })) expect.unreachable();
    })();
    await expect(watching).rejects.toMatchObject({ code, message: expect.stringContaining('oldest available revision is 42') });
    expect(attempts).toBe(1);
  });

  it('gives up after maxAttempts failures in a row, with the last error', async () => {
    let attempts = 0;
    const client = await serve({
      // eslint-disable-next-line require-yield
      async *watchJobs() {
        attempts++;
        throw new JobkeepError('UNAVAILABLE', `attempt ${attempts} refused`);
      },
    });
    const watching = (async () => {
      for await (const _message of watchJobs(client, { nodeId: 'n' }, { initialBackoffMs: 1, maxAttempts: 3 })) expect.unreachable();
    })();
    await expect(watching).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'attempt 3 refused' });
    expect(attempts).toBe(3);
  });

  it('stops with CANCELLED when its signal aborts, while streaming or while waiting to reconnect', async () => {
    let ended = 0;
    let attempts = 0;
    const client = await serve({
      async *watchJobs(_request, { signal }) {
        attempts++;
        if (attempts > 1) throw new JobkeepError('UNAVAILABLE', 'down');
        try {
          yield progress(1);
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
        } finally {
          ended++;
        }
      },
    });
    const streaming = new AbortController();
    const first = (async () => {
      for await (const _message of watchJobs(client, { nodeId: 'n' }, { signal: streaming.signal })) streaming.abort();
    })();
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.waitFor(() => expect(ended).toBe(1));

    const waiting = new AbortController();
    const second = (async () => {
      const options = { signal: waiting.signal, initialBackoffMs: 60_000, onRetry: () => waiting.abort() };
      for await (const _message of watchJobs(client, { nodeId: 'n' }, options)) expect.unreachable();
    })();
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
