import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExecutionState } from '@jobkeep/api';
import { createExecutionStoreClient, createJobStoreClient } from '@jobkeep/client';
import { describeMachine, machineLine, writeResults, type Machine } from './bench-report.js';
import { benchJob } from './jobkeep-cases.js';
import { markdownTable, percentile, processCpuMs, type Measurement } from './measure.js';
import { BIG_NODE, makeComputeDatabase } from './open-bench.js';
import { openFiles, processMemory } from './process-stats.js';
import { startJobkeep } from './server-process.js';

const NODES = Number(process.env.JOBKEEP_BENCH_SCALE_NODES ?? '10000');
const EXECUTIONS = Number(process.env.JOBKEEP_BENCH_SCALE_EXECUTIONS ?? '1000000');
const COLD_OPENS = Number(process.env.JOBKEEP_BENCH_COLD_OPENS ?? '500');
const LIST_PAGES = Number(process.env.JOBKEEP_BENCH_LIST_PAGES ?? '1000');
/** The server's default --max-open-databases, which the node case runs with (it passes no flag). */
const DEFAULT_MAX_OPEN = 256;
/** A node database holds three files open: the database, its WAL and its shared-memory index. */
const FILES_PER_DATABASE = 3;
const CREATE_IN_FLIGHT = 16;
const RSS_TARGET_MB = 300;

export interface NodeScale {
  nodes: number;
  createSeconds: number;
  /** Open file descriptors of the server: after start, the most seen while creating (sampled every 100 ms), after creating, after the cold opens. */
  openFiles: { atStart: number; mostWhileCreating: number; afterCreating: number; afterColdOpens: number };
  /** The bound the LRU of open databases sets on the files they hold. */
  databaseFileBound: number;
  rssMb: { atStart: number; afterCreating: number; afterColdOpens: number; peak: number };
  /** Undefined below 10,000 nodes, where the target does not apply. */
  rssTargetMet?: boolean;
  reads: Measurement[];
}

export interface ExecutionScale {
  executions: number;
  fileMb: number;
  /** The first call after the server started (connection made beforehand): the database's first open. */
  firstOpenMs: number;
  calls: Measurement[];
  rssMb: number;
}

export interface ScaleBenchReport {
  machine: Machine;
  nodes: NodeScale;
  executions: ExecutionScale;
  markdown: string;
}

/**
 * Issue 9, item 4: many node databases on one server, and one large database, all through gRPC
 * against the built server in its own process. Writes results/scale.json and .md.
 */
export async function scaleBench(): Promise<ScaleBenchReport> {
  const machine = describeMachine();
  const nodes = await manyNodeDatabases();
  const executions = await oneLargeDatabase();
  const markdown = [
    `## Scale: ${NODES.toLocaleString('en')} node databases on one server; one database of ${EXECUTIONS.toLocaleString('en')} executions`,
    machineLine(machine),
    nodesMarkdown(nodes),
    executionsMarkdown(executions),
  ].join('\n\n');
  writeResults('scale', { machine, nodes, executions }, markdown);
  return { machine, nodes, executions, markdown };
}

const nodeName = (i: number) => `scale-${i}`;

/**
 * Creates `NODES` requester databases through the server (a CreateJob on each new node, 16 in
 * flight), with --max-open-databases at its default, watching the server's open files and
 * memory; then reads a job of databases the LRU has closed (a cold open: the file is closed in
 * jobkeep, though the OS may still cache its pages) beside reads of an open one.
 */
async function manyNodeDatabases(): Promise<NodeScale> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-scale-'));
  const server = await startJobkeep(dataDir);
  const pid = server.child.pid!;
  const jobs = createJobStoreClient(server.address);
  try {
    await jobs.waitForReady(Date.now() + 10_000);
    const atStart = { files: openFiles(pid), rss: processMemory(pid).rssMb };
    let mostFiles = atStart.files;
    const sampler = setInterval(() => (mostFiles = Math.max(mostFiles, openFiles(pid))), 100);
    const jobIds: string[] = [];
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_IN_FLIGHT }, async () => {
        for (let i = next++; i < NODES; i = next++) jobIds[i] = (await jobs.createJob({ nodeId: nodeName(i), job: benchJob(i) })).job!.id;
      }),
    );
    const createSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    clearInterval(sampler);
    const afterCreating = { files: openFiles(pid), rss: processMemory(pid).rssMb };

    // The first NODES − 256 databases were closed by the LRU; each is read once, in order.
    const coldOpens = Math.min(COLD_OPENS, NODES - DEFAULT_MAX_OPEN);
    const getJob = (i: number) => jobs.getJob({ nodeId: nodeName(i), key: { case: 'id', value: jobIds[i]! } });
    const reads = [
      await timeEach(`GetJob in a node database closed by the LRU (cold open), 1 at a time`, coldOpens, getJob, { serverPid: pid }),
      await timeEach('baseline: GetJob in an open node database, 1 at a time', coldOpens, () => getJob(NODES - 1), { serverPid: pid }),
    ];
    const afterColdOpens = { files: openFiles(pid), memory: processMemory(pid) };
    return {
      nodes: NODES,
      createSeconds,
      openFiles: { atStart: atStart.files, mostWhileCreating: mostFiles, afterCreating: afterCreating.files, afterColdOpens: afterColdOpens.files },
      databaseFileBound: DEFAULT_MAX_OPEN * FILES_PER_DATABASE,
      rssMb: { atStart: atStart.rss, afterCreating: afterCreating.rss, afterColdOpens: afterColdOpens.memory.rssMb, peak: afterColdOpens.memory.peakRssMb },
      rssTargetMet: NODES >= 10_000 ? afterColdOpens.memory.peakRssMb <= RSS_TARGET_MB : undefined,
      reads,
    };
  } finally {
    jobs.close();
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * A compute database of `EXECUTIONS` executions (bulk-loaded as the open case does), served by
 * a server that keeps one node database open, so that reading a second node's database closes
 * the large one and its next read opens it again: each of those is a cold open. Then pages of
 * ListExecutions walked with their page tokens, all and by state.
 */
async function oneLargeDatabase(): Promise<ExecutionScale> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-scale-executions-'));
  try {
    const file = await makeComputeDatabase(dataDir, EXECUTIONS);
    const server = await startJobkeep(dataDir, ['--max-open-databases', '1']);
    const executions = createExecutionStoreClient(server.address);
    const serverPid = server.child.pid!;
    try {
      await executions.waitForReady(Date.now() + 10_000);
      const counters = () => executions.getCounters({ nodeId: BIG_NODE });
      const started = process.hrtime.bigint();
      const first = await counters();
      const firstOpenMs = Number(process.hrtime.bigint() - started) / 1e6;
      const counted = first.counts.reduce((sum, { count }) => sum + count, 0n);
      if (counted !== BigInt(EXECUTIONS + 1)) throw new Error(`GetCounters counted ${counted} executions, not ${EXECUTIONS + 1}`);

      await executions.createExecution({ nodeId: 'compute-small', execution: { jobId: 'j-small', requesterNodeId: 'requester-1' } });
      const size = EXECUTIONS.toLocaleString('en');
      const calls = [
        await timeEach(`GetCounters, ${size}-execution database closed (cold open), 1 at a time`, Math.min(COLD_OPENS, 100), counters, {
          before: () => executions.getCounters({ nodeId: 'compute-small' }),
        }),
        await timeEach(`baseline: GetCounters, ${size}-execution database open`, Math.min(COLD_OPENS, 100), counters, { serverPid }),
        await walkPages(`ListExecutions, pages of 100 in order, walked by page token`, () => ({})),
        await walkPages(`ListExecutions, state RUNNING (a sixth of them), pages of 100 walked by page token`, () => ({ states: [ExecutionState.RUNNING] })),
      ];
      return { executions: EXECUTIONS, fileMb: fs.statSync(file).size / 1e6, firstOpenMs, calls, rssMb: processMemory(serverPid).rssMb };

      async function walkPages(name: string, filter: () => { states?: ExecutionState[] }) {
        let pageToken = '';
        const page = async () => {
          // Past the last page the walk starts again from the first.
          pageToken = (await executions.listExecutions({ nodeId: BIG_NODE, pageSize: 100, pageToken, ...filter() })).nextPageToken;
        };
        return timeEach(name, LIST_PAGES, page, { serverPid });
      }
    } finally {
      executions.close();
      await server.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Times `call` `count` times, one at a time, each after `before` (not timed) when given. With
 * `serverPid` (only where there is no `before`, whose CPU would count), the server's CPU per call.
 */
async function timeEach(
  name: string,
  count: number,
  call: (i: number) => Promise<unknown>,
  options: { before?: (i: number) => Promise<unknown>; serverPid?: number } = {},
): Promise<Measurement> {
  const { before, serverPid } = options;
  const latencies: number[] = [];
  const cpuBefore = serverPid === undefined ? 0 : processCpuMs(serverPid);
  for (let i = 0; i < count; i++) {
    await before?.(i);
    const started = process.hrtime.bigint();
    await call(i);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const seconds = latencies.reduce((sum, ms) => sum + ms, 0) / 1000;
  latencies.sort((a, b) => a - b);
  const serverCpuUsPerOp = serverPid === undefined ? undefined : ((processCpuMs(serverPid) - cpuBefore) * 1000) / count;
  return { name, ops: count, seconds, opsPerSecond: count / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), serverCpuUsPerOp };
}

function nodesMarkdown(n: NodeScale): string {
  const mb = (value: number) => value.toFixed(0);
  const target = n.rssTargetMet === undefined ? 'not applicable below 10,000 nodes' : n.rssTargetMet ? 'met' : 'not met';
  return [
    `### ${n.nodes.toLocaleString('en')} node databases, --max-open-databases ${DEFAULT_MAX_OPEN} (the default)`,
    '',
    'Open files are the entries of /proc/<pid>/fd: the node databases\' files, bounded by the LRU, and what the server held at start (coordination.db, sockets, its own). ' +
      'RSS is VmRSS and the peak VmHWM of /proc/<pid>/status. A cold open reads a job of a database that the LRU has closed; the OS may still cache the file\'s pages.',
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| node databases created through gRPC (a CreateJob on each new node, ${CREATE_IN_FLIGHT} in flight) | ${n.nodes.toLocaleString('en')} in ${n.createSeconds.toFixed(1)} s (${Math.round(n.nodes / n.createSeconds)}/s) |`,
    `| server's open files: at start / most while creating / after creating / after the cold opens | ${n.openFiles.atStart} / ${n.openFiles.mostWhileCreating} / ${n.openFiles.afterCreating} / ${n.openFiles.afterColdOpens} |`,
    `| bound on node database files (${DEFAULT_MAX_OPEN} open × ${FILES_PER_DATABASE} files) | ${n.databaseFileBound} |`,
    `| server RSS, MB: at start / after creating / after the cold opens / peak | ${mb(n.rssMb.atStart)} / ${mb(n.rssMb.afterCreating)} / ${mb(n.rssMb.afterColdOpens)} / ${mb(n.rssMb.peak)} |`,
    `| target: peak RSS ≤ ${RSS_TARGET_MB} MB with 10,000 node databases | ${target} |`,
    '',
    markdownTable(n.reads),
  ].join('\n');
}

function executionsMarkdown(e: ExecutionScale): string {
  return [
    `### One compute database of ${e.executions.toLocaleString('en')} executions (${e.fileMb.toFixed(0)} MB), server with --max-open-databases 1`,
    `First call after the server started (GetCounters, the database's first open): ${e.firstOpenMs.toFixed(1)} ms. Server RSS after the table below: ${e.rssMb.toFixed(0)} MB.`,
    markdownTable(e.calls),
  ].join('\n\n');
}
