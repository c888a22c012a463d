import { JobState, type Job } from '@jobkeep/api';
import { Command } from 'commander';
import { connectRequester, type RequesterClients } from '../requester-clients.js';
import { commonOptions } from '../requester-config.js';
import { cliAction } from './cli-action.js';
import { resolveJob } from './resolve-job.js';
import { jobView, printJson } from './views.js';

const CANCELLABLE = [JobState.PENDING, JobState.QUEUED, JobState.RUNNING, JobState.HELD];

/**
 * Cancels a job that has not ended. The daemon, seeing it CANCELLED, stops its live execution:
 * CANCELLED on the compute node, which kills the run.
 */
export async function cancelJob(clients: Pick<RequesterClients, 'jobs'>, nodeId: string, key: string, message: string): Promise<Job> {
  const job = await resolveJob(clients.jobs, nodeId, key);
  const { job: cancelled } = await clients.jobs.updateJobState({
    nodeId,
    jobId: job.id,
    newState: JobState.CANCELLED,
    message,
    expectedStates: CANCELLABLE,
  });
  return cancelled!;
}

export function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a job; a running execution is stopped on its compute node')
    .argument('<job>', 'job id or a unique prefix of one')
    .option('--message <text>', 'why', 'cancelled by user')
    .option('--json', 'print the job as JSON')
    .action(
      cliAction(async (key: string, options: { message: string; json?: boolean }, self: Command) => {
        const { server, nodeId, security } = commonOptions(self);
        const clients = connectRequester(server, security);
        try {
          const job = await cancelJob(clients, nodeId, key, options.message);
          if (options.json) printJson({ job: jobView(job) });
          else process.stdout.write(`${job.id} CANCELLED\n`);
        } finally {
          clients.close();
        }
      }),
    );
}
