import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkDataDirFiles } from './file-check.js';
import { checkLocksAfterRestart, LockLedger, startLockLoad } from './lock-load.js';
import { checkAfterRestart } from './restart-check.js';
import { killServer, startServer, type ServerProcess } from './server-process.js';
import { startWriteLoad } from './write-load.js';
import { WriteLedger } from './write-ledger.js';

export interface CrashSuiteSettings {
  cycles: number;
  /** Concurrent writers, each with one durable write in flight at a time. */
  writers: number;
  /** Concurrent lockers, each acquiring and releasing a lock of its own in coordination.db (default 4). */
  lockers?: number;
  /** Kept afterwards; a temporary directory (removed unless something was found) when not given. */
  dataDir?: string;
  /** The kill comes this long after the load starts, at random in [min, max] ms. */
  killAfterMs?: [number, number];
  /**
   * And not before this many writes of the cycle were acknowledged (default 100), so that every
   * kill lands under load however busy the machine is.
   */
  minWritesPerCycle?: number;
  log: (line: string) => void;
}

export interface CrashReport {
  cycles: number;
  /** Writes whose reply arrived: each one is checked after every later restart. */
  acknowledged: number;
  /** Acknowledged facts checked against a restarted server. */
  verified: number;
  /** Writes in flight at a kill. */
  inDoubt: number;
  /** Of those, the ones that turned out to have committed. */
  inDoubtCommitted: number;
  /** Jobs in the data directory at the end. */
  jobs: number;
  /** Lease grants, lock acquires and releases acknowledged; in flight at a kill; facts checked after restarts. */
  locks: { acknowledged: number; inDoubt: number; verified: number };
  /** Database files run through the store's checks, summed over the checks. */
  filesChecked: number;
  dataDir: string;
  problems: string[];
}

/** How long a cycle waits for its least number of acknowledged writes before calling it a problem. */
const LOAD_PATIENCE_MS = 30_000;

/**
 * Kills the jobkeep server with SIGKILL under concurrent durable write load, `cycles` times
 * over one data directory. Each cycle starts the server, checks it against every write
 * acknowledged so far (see checkAfterRestart and checkLocksAfterRestart), runs the load of jobs
 * and of leases and locks, and kills the server at a random
 * moment; the store's file checks then run on every database file while the server is down.
 * A last start checks once more and stops the server with SIGTERM.
 */
export async function runCrashSuite(settings: CrashSuiteSettings): Promise<CrashReport> {
  const { cycles, writers, log } = settings;
  const [minKill, maxKill] = settings.killAfterMs ?? [200, 1500];
  const dataDir = settings.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-crash-'));
  const ledger = new WriteLedger();
  const lockLedger = new LockLedger();
  const problems: string[] = [];
  let filesChecked = 0;
  let cycle = 1;
  try {
    for (; cycle <= cycles; cycle++) {
      const server = await startServer(dataDir);
      try {
        if (cycle > 1) await checkAfterRestart(server.address, ledger, problems, cycle - 1);
        if (cycle > 1) await checkLocksAfterRestart(server.address, lockLedger, problems, cycle - 1);
        const before = { acknowledged: ledger.acknowledged, inDoubt: ledger.inDoubt };
        const load = startWriteLoad(server.address, writers, cycle, ledger, problems);
        const lockLoad = startLockLoad(server.address, settings.lockers ?? 4, cycle, lockLedger, problems);
        const killAfter = minKill + Math.floor(Math.random() * (maxKill - minKill + 1));
        await sleep(killAfter);
        const loaded = before.acknowledged + (settings.minWritesPerCycle ?? 100);
        for (let waited = 0; ledger.acknowledged < loaded && waited < LOAD_PATIENCE_MS; waited += 10) await sleep(10);
        if (ledger.acknowledged < loaded) problems.push(`cycle ${cycle}: the load got fewer than ${loaded - before.acknowledged} writes acknowledged in ${LOAD_PATIENCE_MS} ms`);
        load.stop();
        lockLoad.stop();
        await killServer(server);
        await Promise.all([load.finished, lockLoad.finished]);
        filesChecked += checkDataDirFiles(dataDir, problems, `after the kill of cycle ${cycle}`);
        log(
          `cycle ${cycle}/${cycles}: killed after ${killAfter} ms; ${ledger.acknowledged - before.acknowledged} writes acknowledged, ` +
            `${ledger.inDoubt - before.inDoubt} in doubt; ${problems.length} problems so far`,
        );
      } finally {
        await killServer(server);
      }
    }
    const server = await startServer(dataDir);
    try {
      await checkAfterRestart(server.address, ledger, problems, cycles);
      await checkLocksAfterRestart(server.address, lockLedger, problems, cycles);
    } finally {
      await stopServer(server);
    }
    filesChecked += checkDataDirFiles(dataDir, problems, 'after the final stop');
  } catch (error) {
    // A server that no longer starts, or a check that cannot run, ends the suite: it is a finding too.
    problems.push(`cycle ${cycle}: ${(error as Error).stack ?? String(error)}`);
  }
  if (settings.dataDir === undefined) {
    if (problems.length === 0) fs.rmSync(dataDir, { recursive: true, force: true });
    else log(`the data directory is kept for a look: ${dataDir}`);
  }
  return {
    cycles: Math.min(cycle, cycles),
    acknowledged: ledger.acknowledged,
    verified: ledger.verified,
    inDoubt: ledger.inDoubt,
    inDoubtCommitted: ledger.inDoubtCommitted,
    jobs: ledger.jobs.size,
    locks: { acknowledged: lockLedger.acknowledged, inDoubt: lockLedger.inDoubt, verified: lockLedger.verified },
    filesChecked,
    dataDir,
    problems,
  };
}

/** SIGTERM, then SIGKILL if the server has not stopped within `graceMs`. */
async function stopServer(server: ServerProcess, graceMs = 10_000): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  await server.exited;
  clearTimeout(timer);
}
