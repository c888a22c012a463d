import type { WatchJobsResponse } from '@jobkeep/api';
import { createJobStoreClient, watchJobs, type JobStoreClient } from '@jobkeep/client';
import { describe, expect, it, vi } from 'vitest';
import { useServerProcesses } from './test-support/server-processes.js';
import { useTestServers } from './test-support/test-server.js';
import { historyFrom, revisions } from './test-support/watch-helpers.js';

const NODE = 'requester-1';

/** Creates jobs until stopped, riding out the server's absence; each acknowledged write counts. */
function keepWriting(client: JobStoreClient): { stop: () => Promise<number> } {
  let stopping = false;
  let written = 0;
  const done = (async () => {
    while (!stopping) {
      try {
        await client.createJob({ nodeId: NODE, job: {} });
        written++;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20)); // the server is restarting
      }
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await done;
      return written;
    },
  };
}

/** Collects what a resumable watch yields, and the codes of the failures it rode out. */
function collect(watcher: JobStoreClient, signal: AbortSignal) {
  const seen: WatchJobsResponse[] = [];
  const retried: string[] = [];
  const options = { signal, initialBackoffMs: 20, maxBackoffMs: 200, onRetry: (error: { code: string }) => retried.push(error.code) };
  const done = (async () => {
    for await (const message of watchJobs(watcher, { nodeId: NODE, fromRevision: 1n }, options)) seen.push(message);
  })();
  const events = () => seen.flatMap((message) => (message.kind.case === 'event' ? [message.kind.value] : []));
  /** Resolves once 50 more events have come. */
  const moreEvents = async () => {
    const before = events().length;
    await vi.waitFor(() => expect(events().length).toBeGreaterThan(before + 50), { timeout: 15_000 });
  };
  return { seen, retried, done, events, moreEvents };
}

describe('the resumable watch of @jobkeep/client', () => {
  const servers = useTestServers();
  const processes = useServerProcesses();

  it('survives server restarts mid-stream while a writer keeps writing, losing and repeating nothing', async () => {
    let current = await servers.start();
    const { address } = current.server;
    const { dataDir } = current.config;
    await current.client.createJob({ nodeId: NODE, job: {} });

    const watcher = createJobStoreClient(address);
    const writer = createJobStoreClient(address, { defaultDeadlineMs: 2000 });
    const stop = new AbortController();
    const watch = collect(watcher, stop.signal);
    const writing = keepWriting(writer);
    await watch.moreEvents();
    for (let restart = 0; restart < 2; restart++) {
      await current.stop();
      current = await servers.start({ dataDir, listen: address });
      await watch.moreEvents();
    }
    const written = await writing.stop();

    const history = await historyFrom(current.client, NODE);
    const head = Number(history.at(-1)!.revision);
    expect(head).toBeGreaterThanOrEqual(written + 1);
    await vi.waitFor(() => expect(Number(watch.events().at(-1)?.revision)).toBe(head), { timeout: 10_000 });
    stop.abort();
    await expect(watch.done).rejects.toMatchObject({ code: 'CANCELLED' });
    watcher.close();
    writer.close();

    expect(revisions(watch.events())).toEqual(Array.from({ length: head }, (_, index) => index + 1));
    expect(watch.events()).toEqual(history);
    // Each shutdown ended the watch with UNAVAILABLE; reconnecting may have been refused a few times more.
    expect(watch.retried.filter((code) => code !== 'UNAVAILABLE')).toEqual([]);
    expect(watch.retried.length).toBeGreaterThanOrEqual(2);
    // Without a filter every revision is an event: a progress report names the last one yielded.
    let lastEvent = 0;
    for (const message of watch.seen) {
      if (message.kind.case === 'event') lastEvent = Number(message.kind.value.revision);
      else expect(message.kind.value?.revision).toBe(BigInt(lastEvent));
    }
  });

  it('survives a server process killed mid-stream and started again on the same port', async () => {
    const dataDir = processes.tempDir();
    const first = processes.launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    const firstAddress = await first.address;
    const writer = createJobStoreClient(firstAddress, { defaultDeadlineMs: 2000 });
    const watcher = createJobStoreClient(firstAddress);
    await writer.createJob({ nodeId: NODE, job: {} });
    const stop = new AbortController();
    const watch = collect(watcher, stop.signal);
    const writing = keepWriting(writer);

    await watch.moreEvents();
    first.child.kill('SIGKILL');
    await first.exited;
    const second = processes.launch(['--listen', firstAddress, '--data-dir', dataDir]);
    await second.address;
    await watch.moreEvents();
    await writing.stop();

    const history = await historyFrom(writer, NODE);
    const head = Number(history.at(-1)!.revision);
    await vi.waitFor(() => expect(Number(watch.events().at(-1)?.revision)).toBe(head), { timeout: 10_000 });
    stop.abort();
    await expect(watch.done).rejects.toMatchObject({ code: 'CANCELLED' });
    watcher.close();
    writer.close();
    expect(revisions(watch.events())).toEqual(Array.from({ length: head }, (_, index) => index + 1));
    expect(watch.events()).toEqual(history);
    expect(watch.retried.length).toBeGreaterThanOrEqual(1);
    second.child.kill('SIGTERM');
  });
});
