import { ExecutionState, JobState, type Job } from '@jobkeep/api';
import { createExecutionStoreClient, createJobStoreClient, type ExecutionStoreClient, type JobStoreClient } from '@jobkeep/client';
import { LocalCluster, sleep } from '@jobkeep/testing/cluster';
import { SingleBar, Presets } from 'cli-progress';
import Table from 'cli-table3';

/**
 * `npm run demo`: a server on a temporary data directory, one requester and two compute nodes,
 * each its own process; 50 jobs submitted, followed to their end, summed up; then every process
 * it started is stopped and the directory removed.
 */
const REQUESTER = 'requester-1';
const COMPUTE = [
  { id: 'compute-1', slots: 3, labels: { zone: 'a' } },
  { id: 'compute-2', slots: 3, labels: { zone: 'b' } },
];
const JOBS = 50;

/** A mix of what the compute nodes can run: real commands, sleeps, and a command that fails. */
function demoJob(i: number): { name: string; spec: Record<string, string | number | string[]>; retryPolicy?: { maxRetries: number; backoffMs: number } } {
  if (i % 10 === 9) {
    return { name: `fails-${i}`, spec: { executor: 'exec', argv: [process.execPath, '-e', 'console.error("no such input"); process.exit(2)'] }, retryPolicy: { maxRetries: 1, backoffMs: 200 } };
  }
  if (i % 2 === 0) return { name: `count-${i}`, spec: { executor: 'exec', argv: [process.execPath, '-e', `let s = 0; for (let k = 0; k < ${i} * 1e5; k++) s += k; console.log(s)`] } };
  return { name: `sleep-${i}`, spec: { executor: 'sleep', sleepMs: 100 + 20 * i } };
}

const TERMINAL = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]);

async function allJobs(jobs: JobStoreClient): Promise<Job[]> {
  const { jobs: page } = await jobs.listJobs({ nodeId: REQUESTER, pageSize: 1000 });
  return page;
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log('starting a server, a requester and two compute nodes, each its own process...');
  const cluster = await LocalCluster.start();
  const jobs = createJobStoreClient(cluster.address);
  const executions = createExecutionStoreClient(cluster.address);
  const stop = async () => {
    jobs.close();
    executions.close();
    await cluster.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    for (const node of COMPUTE) await cluster.startCompute(node);
    await cluster.startRequester(REQUESTER);
    console.log(`server on ${cluster.address}; submitting ${JOBS} jobs to ${REQUESTER}`);
    await jobs.createBatch({ nodeId: REQUESTER, jobs: Array.from({ length: JOBS }, (_, i) => demoJob(i)) });

    const ended = await follow(jobs);
    await summary(ended, executions, Date.now() - started);
  } finally {
    await stop();
  }
}

/** Shows progress until every job has ended: a bar on a terminal, a line a second otherwise. */
async function follow(jobs: JobStoreClient): Promise<Job[]> {
  const bar = process.stdout.isTTY ? new SingleBar({ format: 'jobs {bar} {value}/{total} ended | {running} running' }, Presets.shades_classic) : undefined;
  bar?.start(JOBS, 0, { running: 0 });
  for (let tick = 0; ; tick++) {
    const all = await allJobs(jobs);
    const ended = all.filter((job) => TERMINAL.has(job.state)).length;
    const running = all.filter((job) => job.state === JobState.RUNNING).length;
    if (bar !== undefined) bar.update(ended, { running });
    else if (tick % 4 === 0) console.log(`${ended}/${JOBS} jobs ended, ${running} running`);
    if (ended === JOBS) {
      bar?.stop();
      return all;
    }
    await sleep(250);
  }
}

async function summary(all: Job[], executions: ExecutionStoreClient, elapsedMs: number): Promise<void> {
  const byState = new Table({ head: ['job state', 'jobs'] });
  for (const state of [JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]) {
    byState.push([JobState[state], all.filter((job) => job.state === state).length]);
  }
  const perNode = new Table({ head: ['compute node', 'executions', 'completed', 'failed', 'rejected'] });
  for (const node of COMPUTE) {
    const { executions: list } = await executions.listExecutions({ nodeId: node.id, pageSize: 1000 });
    const count = (state: ExecutionState) => list.filter((execution) => execution.state === state).length;
    perNode.push([node.id, list.length, count(ExecutionState.COMPLETED), count(ExecutionState.FAILED), count(ExecutionState.BID_REJECTED)]);
  }
  console.log(`\n${byState.toString()}\n${perNode.toString()}`);
  const failed = all.filter((job) => job.state === JobState.FAILED).slice(0, 3);
  for (const job of failed) console.log(`FAILED ${job.name}: ${job.stateMessage}`);
  console.log(`elapsed: ${(elapsedMs / 1000).toFixed(1)} s`);
}

await main();
