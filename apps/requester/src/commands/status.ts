import { JobkeepError } from '@jobkeep/client';
import { Command } from 'commander';
import { connectRequester, type RequesterClients } from '../requester-clients.js';
import { commonOptions } from '../requester-config.js';
import { cliAction } from './cli-action.js';
import { jobExecutions, resolveJob } from './resolve-job.js';
import { executionView, fields, jobView, printJson, runView, table, type ExecutionView, type JobView, type RunView } from './views.js';

export interface JobStatus {
  job: JobView;
  executions: ExecutionView[];
  /** The latest execution as its compute node keeps it; null before any, or if the node never got it. */
  latestRun: RunView | null;
}

/** A job, the requester's view of its executions, and the compute node's record of the latest. */
export async function jobStatus(clients: Pick<RequesterClients, 'jobs' | 'executions'>, nodeId: string, key: string): Promise<JobStatus> {
  const job = await resolveJob(clients.jobs, nodeId, key);
  const executions = await jobExecutions(clients.jobs, nodeId, job.id);
  const latest = executions.at(-1);
  let latestRun: RunView | null = null;
  if (latest !== undefined) {
    try {
      const { execution } = await clients.executions.getExecution({ nodeId: latest.computeNodeId, executionId: latest.id });
      latestRun = runView(latest.computeNodeId, execution!);
    } catch (error) {
      if (!(error instanceof JobkeepError && error.code === 'NOT_FOUND')) throw error;
    }
  }
  return { job: jobView(job), executions: executions.map(executionView), latestRun };
}

export function printStatus(status: JobStatus): void {
  const { job, executions, latestRun } = status;
  const lines = [
    fields([
      ['Job', job.id],
      ['Name', job.name],
      ['State', job.state],
      ['Message', job.message],
      ['Retries', job.maxRetries === null ? job.retryCount : `${job.retryCount} of ${job.maxRetries}`],
      // Kept by the store after a retry is taken; it means something only while the job waits.
      ['Retry at', job.state === 'QUEUED' ? job.retryTime : null],
      ['Created', job.createTime],
      ['Modified', job.modifyTime],
    ]),
  ];
  if (executions.length > 0) {
    lines.push(
      'Executions',
      table(
        ['ID', 'NODE', 'DESIRED', 'STATE', 'MESSAGE'],
        executions.map((execution) => [execution.id, execution.computeNodeId, execution.desiredState, execution.computeState, execution.message]),
      ),
    );
  }
  if (latestRun !== null) {
    lines.push(`Latest run: ${latestRun.executionId} on ${latestRun.computeNodeId}, ${latestRun.state}${latestRun.exitCode === null ? '' : `, exit code ${latestRun.exitCode}`}`);
    if (latestRun.message !== '') lines.push(`  ${latestRun.message}`);
    if (latestRun.stderrTail !== '') lines.push('stderr (tail):', latestRun.stderrTail.trimEnd());
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show a job, its executions and the result of its latest run')
    .argument('<job>', 'job id or a unique prefix of one')
    .option('--json', 'print as JSON')
    .action(
      cliAction(async (key: string, options: { json?: boolean }, self: Command) => {
        const { server, nodeId, security } = commonOptions(self);
        const clients = connectRequester(server, security);
        try {
          const status = await jobStatus(clients, nodeId, key);
          if (options.json) printJson(status);
          else printStatus(status);
        } finally {
          clients.close();
        }
      }),
    );
}
