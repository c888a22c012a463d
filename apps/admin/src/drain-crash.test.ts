import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNodeDatabase, openStorage } from '@jobkeep/store';

const ADMIN_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SOURCE = 'requester-a';
const TARGET = 'requester-b';
const JOBS = 20_000;
const KILLS = 20;

let dataDir: string | undefined;
afterEach(() => {
  if (dataDir !== undefined) fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  dataDir = undefined;
});

/**
 * Runs `jobkeep-admin drain` offline. With `kill`, kills it with SIGKILL `kill.afterMs` after the
 * target first holds more than `kill.onTargetBefore` jobs (polled every few milliseconds), unless
 * it ends first: so the kill lands while jobs are moving, however long this machine takes to
 * start a process and however fast the drain then goes.
 */
function runDrain(
  dir: string,
  kill?: { onTargetBefore: number; afterMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [ADMIN_MAIN, '--data-dir', dir, 'drain', '--from', SOURCE, '--to', TARGET, '--json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const watcher = kill === undefined ? undefined : killOnceMoving(child, path.join(dir, `${TARGET}-requester.db`), kill);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      watcher?.stop();
      resolve({ code, signal, stderr });
    }),
  );
}

/** Polls the target's job count, read-only, and kills `child` `afterMs` after it first exceeds `onTargetBefore`. */
function killOnceMoving(child: ChildProcess, targetFile: string, { onTargetBefore, afterMs }: { onTargetBefore: number; afterMs: number }) {
  let target: Database.Database | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const onTarget = (): number => {
    if (target === undefined) {
      if (!fs.existsSync(targetFile)) return 0;
      target = new Database(targetFile, { readonly: true, fileMustExist: true });
    }
    // The drain creates the target's tables as it opens it; until then there is nothing to count.
    const tables = target.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'jobs'").get() as { n: number };
    return tables.n === 0 ? 0 : (target.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  };
  const poll = setInterval(() => {
    let count: number;
    try {
      count = onTarget();
    } catch {
      // A file the drain is still creating, or busy for a moment: look again at the next tick.
      target?.close();
      target = undefined;
      return;
    }
    if (count <= onTargetBefore) return;
    clearInterval(poll);
    killTimer = setTimeout(() => child.kill('SIGKILL'), afterMs);
  }, 5);
  return {
    stop() {
      clearInterval(poll);
      clearTimeout(killTimer);
      target?.close();
    },
  };
}

/** Where the seeded jobs are now: the ids on the target, the ids still live on the source, and any lost. */
async function census(dir: string, jobIds: readonly string[]) {
  const storage = openStorage({ dataDir: dir, refreshLeasesAtOpen: false });
  try {
    const ids = async (node: string, live: boolean) => {
      if (!fs.existsSync(storage.locations.nodeDatabasePath('requester', node))) return [];
      const found: string[] = [];
      let pageToken = '';
      do {
        const page = await storage.jobStore.listJobs(node, { pageSize: 1_000, pageToken, ...(live ? { states: ['PENDING', 'QUEUED', 'RUNNING', 'HELD'] } : {}) });
        found.push(...page.items.map((job) => job.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return found;
    };
    const onTarget = await ids(TARGET, false);
    const liveOnSource = await ids(SOURCE, true);
    const present = new Set([...onTarget, ...liveOnSource]);
    return { lost: jobIds.filter((id) => !present.has(id)), onTarget, liveOnSource, catalogue: storage.catalogue.list() };
  } finally {
    storage.close();
  }
}

describe('a drain killed at random instants', () => {
  it(`ends, once run to completion, with every job exactly once on the target (${KILLS} SIGKILLs)`, { timeout: 240_000 }, async () => {
    dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-drain-crash-')), 'data');
    const seeded = openStorage({ dataDir });
    const jobIds: string[] = [];
    try {
      // Batches of 50: a drain moves a batch's live jobs in one group, so these make groups of 100.
      for (let made = 0; made < JOBS; made += 50) {
        const { jobIds: ids } = await seeded.batches.createBatch(SOURCE, { jobs: Array.from({ length: 50 }, (_, i) => ({ state: i % 3 === 0 ? 'PENDING' : 'QUEUED', spec: { n: made + i } })) });
        jobIds.push(...ids);
      }
    } finally {
      seeded.close();
    }

    // A kill counts once it lands while jobs are moving: after the first group and before the last.
    // Each run is killed at a random instant up to 30 ms after its first group reached the target,
    // which leaves room for twenty kills in one drain on a fast machine and a slow one alike.
    const movedAtKills: number[] = [];
    let before = 0;
    for (let attempt = 0; movedAtKills.length < KILLS && attempt < KILLS * 4; attempt++) {
      const run = await runDrain(dataDir, { onTargetBefore: before, afterMs: Math.floor(Math.random() * 30) });
      expect(run.signal === 'SIGKILL' || run.code === 0, run.stderr).toBe(true);
      // Whatever instant the kill came at, no job is lost: it is live on the source, on the target, or both.
      const now = await census(dataDir, jobIds);
      expect(now.lost).toEqual([]);
      if (run.signal !== 'SIGKILL') break; // the drain finished before its kill
      const moved = now.onTarget.length - before;
      before = now.onTarget.length;
      if (moved > 0 && now.onTarget.length < JOBS) movedAtKills.push(now.onTarget.length);
    }
    console.log(`jobs on the target at each kill: ${movedAtKills.join(' ')}`);
    expect(movedAtKills).toHaveLength(KILLS);

    expect(await runDrain(dataDir)).toMatchObject({ code: 0 });
    const after = await census(dataDir, jobIds);
    expect(after.liveOnSource).toEqual([]);
    // Exactly once: the target holds the seeded jobs and nothing else (ids are its primary key).
    expect(after.onTarget.length).toBe(JOBS);
    expect([...after.onTarget].sort()).toEqual([...jobIds].sort());
    expect(after.catalogue.find((entry) => entry.nodeId === SOURCE)?.lifecycle).toBe('RETIRED');
    for (const node of [SOURCE, TARGET]) {
      expect(checkNodeDatabase('requester', path.join(dataDir, `${node}-requester.db`))).toEqual([]);
    }
  });
});
