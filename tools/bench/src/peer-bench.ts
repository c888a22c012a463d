import { Etcd3 } from 'etcd3';
import { createJobStoreClient } from '@jobkeep/client';
import { describeMachine, machineLine, writeResults, type Machine } from './bench-report.js';
import { etcdCases } from './etcd-cases.js';
import { createEtcdClient } from './etcd-client.js';
import { etcdNpmLockCases } from './etcd-npm-lock-cases.js';
import { withEtcd } from './etcd-process.js';
import { echoCase, jobkeepCases, jobkeepClients } from './jobkeep-cases.js';
import type { LoadCase } from './load-case.js';
import { runLoad } from './load-runner.js';
import { loadTable } from './load-table.js';
import { checkTargets, targetsTable, type PeerResult, type TargetCheck } from './peer-targets.js';
import { withJobkeepAndEcho } from './server-process.js';
import { watchFanOutCase } from './watch-fan-out.js';

const IN_FLIGHT = (process.env.JOBKEEP_BENCH_IN_FLIGHT ?? '1,16,64').split(',').map(Number);
/** Only these operations ("CreateJob", "lock distinct", "put"...), for a quicker look at a few rows; all by default. */
const ONLY = process.env.JOBKEEP_BENCH_PEER_OPS?.split(',');
const SECONDS = Number(process.env.JOBKEEP_BENCH_SECONDS ?? '10');
const WARMUP_SECONDS = Number(process.env.JOBKEEP_BENCH_WARMUP_SECONDS ?? '3');
/** Flags for the jobkeep server besides its defaults ("--group-commit-max-writes 1"), for a baseline run of jobkeep against itself. */
const SERVER_FLAGS = process.env.JOBKEEP_BENCH_SERVER_FLAGS?.split(' ').filter((flag) => flag !== '') ?? [];

export interface PeerBenchReport {
  machine: Machine;
  /** etcd's version, when it was installed and measured. */
  etcd?: string;
  results: PeerResult[];
  targets: TargetCheck[];
  markdown: string;
}

/**
 * Issue 9's side-by-side run: the echo ceiling, jobkeep's calls and etcd's (when installed),
 * each server in its own process on 127.0.0.1, all driven by this one client process at 1, 16
 * and 64 calls in flight. The in-flight counts are the outer loop, so that every system's row at
 * one count is measured within minutes of the others. Writes results/peers.json and .md.
 */
export async function peerBench(): Promise<PeerBenchReport> {
  const machine = describeMachine();
  const { results, etcd } = await withJobkeepAndEcho(({ jobkeep, echo }) =>
    withEtcd(async (etcdProcess) => {
      const clients = jobkeepClients(jobkeep.address);
      const echoClient = createJobStoreClient(echo.address);
      const etcdClient = etcdProcess === undefined ? undefined : createEtcdClient(etcdProcess.address);
      const etcdNpmClient = etcdProcess === undefined ? undefined : new Etcd3({ hosts: `http://${etcdProcess.address}` });
      try {
        const cases: LoadCase[] = [
          echoCase(echo, echoClient),
          ...jobkeepCases(jobkeep, clients),
          watchFanOutCase(jobkeep, clients.jobs),
          ...(etcdProcess === undefined ? [] : etcdCases(etcdProcess, etcdClient!)),
          ...(etcdProcess === undefined ? [] : etcdNpmLockCases(etcdProcess, etcdNpmClient!)),
        ].filter((loadCase) => ONLY === undefined || ONLY.includes(loadCase.operation));
        return { results: await runCases(cases), etcd: etcdProcess?.version };
      } finally {
        for (const client of [echoClient, clients.jobs, clients.leases, clients.locks, etcdClient, etcdNpmClient]) client?.close();
      }
    }),
    SERVER_FLAGS,
  );
  const targets = checkTargets(results);
  const markdown = [
    `## Side by side: the echo ceiling, jobkeep and ${etcd === undefined ? 'etcd (not installed: not measured)' : `etcd ${etcd}`}`,
    machineLine(machine),
    `Each row: ${WARMUP_SECONDS} s of warm-up, then ${SECONDS} s measured, with that many calls in flight from one client process ` +
      '(each caller starts its next call when its last one returns). jobkeep runs with its defaults (synchronous=FULL)' +
      (SERVER_FLAGS.length === 0 ? '' : ` but for ${SERVER_FLAGS.join(' ')}`) +
      ', etcd ' +
      'with its own (a single member; each write fsynced in its WAL before the reply), both on this machine\'s temporary ' +
      'directory. CPU per call is the client process\'s (process.cpuUsage) and the server process\'s (/proc/<pid>/stat).',
    loadTable(results),
    '### Targets of issue 9, from the rows above',
    targetsTable(targets),
  ].join('\n\n');
  const report = { machine, etcd, results, targets, markdown };
  writeResults('peers', { machine, etcd, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, results, targets }, markdown);
  return report;
}

/** Every case at every in-flight count; the rows come back grouped by case, in the cases' order. */
async function runCases(cases: LoadCase[]): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  for (const concurrency of IN_FLIGHT) {
    for (const loadCase of cases) {
      const prepared = await loadCase.prepare(concurrency);
      try {
        const options = { concurrency, warmupSeconds: WARMUP_SECONDS, seconds: SECONDS, serverPid: loadCase.serverPid, maxOps: prepared.maxOps, itemsPerOp: loadCase.itemsPerOp };
        const measurement = await runLoad(loadCase.description, options, prepared.operation);
        results.push({ ...measurement, system: loadCase.system, operation: loadCase.operation });
        console.error(`peers: ${loadCase.system} ${loadCase.operation}, ${concurrency} in flight: ${Math.round(measurement.opsPerSecond)} ops/s`);
      } finally {
        await prepared.finish?.();
      }
    }
  }
  const order = (r: PeerResult) => cases.findIndex((c) => c.system === r.system && c.operation === r.operation);
  return results.sort((a, b) => order(a) - order(b) || a.concurrency - b.concurrency);
}
