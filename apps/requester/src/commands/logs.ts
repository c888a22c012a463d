import { JobkeepError } from '@jobkeep/client';
import { Command } from 'commander';
import { connectRequester, type RequesterClients } from '../requester-clients.js';
import { commonOptions } from '../requester-config.js';
import { cliAction } from './cli-action.js';
import { jobExecutions, resolveJob } from './resolve-job.js';
import { printJson, runView, type RunView } from './views.js';

/** The runs of a job's executions as their compute nodes keep them (output tails included), oldest first. */
export async function jobRuns(
  clients: Pick<RequesterClients, 'jobs' | 'executions'>,
  nodeId: string,
  key: string,
  latestOnly = false,
): Promise<{ jobId: string; runs: RunView[] }> {
  const job = await resolveJob(clients.jobs, nodeId, key);
  let executions = await jobExecutions(clients.jobs, nodeId, job.id);
  if (latestOnly) executions = executions.slice(-1);
  const runs: RunView[] = [];
  for (const execution of executions) {
    try {
      const { execution: record } = await clients.executions.getExecution({ nodeId: execution.computeNodeId, executionId: execution.id });
      runs.push(runView(execution.computeNodeId, record!));
    } catch (error) {
      // Never made on its node (a requester that crashed between the creates) or deleted there since.
      if (!(error instanceof JobkeepError && error.code === 'NOT_FOUND')) throw error;
    }
  }
  return { jobId: job.id, runs };
}

export function logsCommand(): Command {
  return new Command('logs')
    .description("show the stdout and stderr tails of a job's executions")
    .argument('<job>', 'job id or a unique prefix of one')
    .option('--latest', 'only the latest execution')
    .option('--json', 'print as JSON')
    .action(
      cliAction(async (key: string, options: { latest?: boolean; json?: boolean }, self: Command) => {
        const { server, nodeId, security } = commonOptions(self);
        const clients = connectRequester(server, security);
        try {
          const result = await jobRuns(clients, nodeId, key, options.latest === true);
          if (options.json) {
            printJson(result);
            return;
          }
          const lines: string[] = [];
          for (const run of result.runs) {
            lines.push(`== ${run.executionId} on ${run.computeNodeId}: ${run.state}${run.exitCode === null ? '' : ` (exit code ${run.exitCode})`} ==`);
            lines.push('--- stdout ---', run.stdoutTail.trimEnd(), '--- stderr ---', run.stderrTail.trimEnd());
          }
          if (lines.length === 0) lines.push(`job ${result.jobId} has no runs yet`);
          process.stdout.write(`${lines.join('\n')}\n`);
        } finally {
          clients.close();
        }
      }),
    );
}
