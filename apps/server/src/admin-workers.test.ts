import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { compactDatabase, type Storage } from '@jobkeep/store';
import { describe, expect, it } from 'vitest';
import { adminTempRoot } from './admin-copy-stream.js';
import { collect, useAdminServers, type AdminClient } from './test-support/admin-clients.js';
import { failsWith } from './test-support/fails-with.js';

const NODE = 'alpha';
const DATABASE = `${NODE}-requester`;
const SPEC_BYTES = 200_000;

/** Grows NODE's requester database by about `megabytes` MB of job specs, through the store; returns the jobs made. */
async function fill(storage: Storage, megabytes: number): Promise<number> {
  const jobs = Math.ceil((megabytes * 1_000_000) / SPEC_BYTES);
  for (let made = 0; made < jobs; made += 50) {
    const count = Math.min(50, jobs - made);
    // Job names are unique in their namespace.
    await storage.batches.createBatch(NODE, {
      jobs: Array.from({ length: count }, () => ({ name: `big-${randomUUID()}`, spec: { payload: ''.padEnd(SPEC_BYTES, '.') } })),
    });
  }
  return jobs;
}

/**
 * The longest the event loop of this process, which runs the server too, was held up while
 * `work` ran, in ms. The histogram measures the time between two firings of its timer, so it
 * must have fired once before the work starts, and stays on a little after it.
 */
async function longestStall(work: () => unknown): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    await sleep(50);
    await work();
    await sleep(50);
  } finally {
    histogram.disable();
  }
  return histogram.max / 1e6;
}

/** Asks for the list of databases every 10 ms until stopped; the slowest answer, in ms. */
function probeLatency(admin: AdminClient): { stop: () => Promise<{ calls: number; worstMs: number }> } {
  let running = true;
  const probing = (async () => {
    let calls = 0;
    let worstMs = 0;
    while (running) {
      const sentAt = performance.now();
      await admin.listDatabases({});
      worstMs = Math.max(worstMs, performance.now() - sentAt);
      calls++;
      await sleep(10);
    }
    return { calls, worstMs };
  })();
  return {
    stop: () => {
      running = false;
      return probing;
    },
  };
}

/** Reads a copy until its sizes are announced (the copy is made by then), then cancels the rest. */
async function untilCopyMade(start: (signal: AbortSignal) => AsyncIterable<{ part: { case: string | undefined } }>): Promise<void> {
  const cancel = new AbortController();
  const reading = (async () => {
    for await (const message of start(cancel.signal)) {
      if (message.part.case === 'started') cancel.abort();
    }
  })();
  await expect(reading).rejects.toEqual(failsWith('CANCELLED'));
}

describe('jobkeep.v1.AdminService: whole-file work on worker threads', () => {
  const servers = useAdminServers();

  it('keeps serving while it compacts, backs up, checks and measures a large database', async () => {
    const { admin, server, dataDir } = await servers.start();
    const file = path.join(dataDir, `${DATABASE}.db`);
    const onTheLoop = path.join(path.dirname(dataDir), 'on-the-loop.db');

    // What the server's loop would go through if the compaction ran on it. The test means
    // something only if that is long, so the database grows until it is, however fast the machine.
    let onLoopMs = 0;
    let jobs = 0;
    for (let megabytes = 0; onLoopMs < 500 && megabytes < 600; megabytes += 60) {
      jobs += await fill(server.storage, 60);
      fs.rmSync(onTheLoop, { force: true });
      onLoopMs = await longestStall(() => compactDatabase(file, onTheLoop));
    }
    expect(onLoopMs).toBeGreaterThan(500);

    const probe = probeLatency(admin);
    let inWorkerMs: number;
    let latency: { calls: number; worstMs: number };
    try {
      inWorkerMs = await longestStall(async () => {
        await untilCopyMade((signal) => admin.compactDatabase({ database: DATABASE }, { signal, deadlineMs: 60_000 }));
        await untilCopyMade((signal) => admin.backupDatabase({ database: DATABASE }, { signal, deadlineMs: 60_000 }));
        expect((await admin.checkDatabase({ database: DATABASE }, { deadlineMs: 60_000 })).problems).toEqual([]);
        expect((await admin.getDatabaseStats({ database: DATABASE }, { deadlineMs: 60_000 })).stats!.pageCount).toBeGreaterThan(0n);
        expect((await admin.listTables({ database: DATABASE }, { deadlineMs: 60_000 })).tables.find((table) => table.name === 'jobs')!.rows).toBe(BigInt(jobs));
      });
    } finally {
      latency = await probe.stop();
    }

    // Generous bounds for a loaded two-core machine: far below the stall of the same work on the loop.
    const bound = Math.min(1000, onLoopMs / 2);
    expect(inWorkerMs).toBeLessThan(bound);
    expect(latency.worstMs).toBeLessThan(bound);
    expect(latency.calls).toBeGreaterThan(10);
    await expect.poll(() => fs.existsSync(adminTempRoot(dataDir)), { timeout: 5000 }).toBe(false);
  }, 120_000);

  it('stops the worker of a cancelled backup and of a copy cut by shutdown, leaving no copy behind', async () => {
    const { admin, server, dataDir } = await servers.start({ shutdownGraceMs: 30_000 });
    await fill(server.storage, 60);
    const tempRoot = adminTempRoot(dataDir);

    // The copy's directory is made just before its worker starts: cancel while the worker copies.
    const cancel = new AbortController();
    const backup = collect(admin.backupDatabase({ database: DATABASE }, { signal: cancel.signal, deadlineMs: 60_000 }));
    await expect.poll(() => fs.existsSync(tempRoot), { interval: 1 }).toBe(true);
    cancel.abort();
    await expect(backup).rejects.toEqual(failsWith('CANCELLED'));
    await expect.poll(() => fs.existsSync(tempRoot), { timeout: 5000 }).toBe(false);

    const compact = collect(admin.compactDatabase({ database: DATABASE }, { deadlineMs: 60_000 }));
    const cut = expect(compact).rejects.toEqual(failsWith('UNAVAILABLE', 'shutting down', `the compacted copy of ${DATABASE}`));
    await expect.poll(() => fs.existsSync(tempRoot), { interval: 1 }).toBe(true);
    await server.shutdown();
    await cut;
    expect(fs.existsSync(tempRoot)).toBe(false);
  }, 60_000);
});
