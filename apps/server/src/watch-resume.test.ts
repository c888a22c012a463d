import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WatchJobsResponse } from '@jobkeep/api';
import { createJobStoreClient, watchJobs, type JobStoreClient } from '@jobkeep/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

/** The built server, as `npm start` runs it; the test target builds it first. */
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** A server process; resolves with it and its address once it serves. */
async function launch(args: string[]): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as { msg: string; address?: string };
      if (line.msg === 'jobkeep serving') resolve(line.address!);
    });
  });
  return { child, address };
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
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

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
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-watch-process-'));
    dirs.push(dataDir);
    const first = await launch(['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    children.push(first.child);
    const writer = createJobStoreClient(first.address, { defaultDeadlineMs: 2000 });
    const watcher = createJobStoreClient(first.address);
    await writer.createJob({ nodeId: NODE, job: {} });
    const stop = new AbortController();
    const watch = collect(watcher, stop.signal);
    const writing = keepWriting(writer);

    await watch.moreEvents();
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const second = await launch(['--listen', first.address, '--data-dir', dataDir]);
    children.push(second.child);
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
