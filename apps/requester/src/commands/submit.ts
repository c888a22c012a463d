import type { Job } from '@jobkeep/api';
import { EXECUTORS } from '@jobkeep/client';
import { Command, Option } from 'commander';
import { createJobRequests, jobToSubmit, type JobFlags, type JobInput } from '../job-file.js';
import { connectRequester, type RequesterClients } from '../requester-clients.js';
import { commonOptions, int32, keyValuePair, milliseconds, nonNegativeInteger, positiveInteger } from '../requester-config.js';
import { cliAction } from './cli-action.js';
import { jobView, printJson } from './views.js';

/** Creates are sent this many at a time: enough to fill the server's group commits. */
const IN_FLIGHT = 16;

/** Creates `count` PENDING copies of the job in the requester's own database; its daemon takes them from there. */
export async function submitJobs(clients: Pick<RequesterClients, 'jobs'>, nodeId: string, input: JobInput, count = 1): Promise<Job[]> {
  const requests = createJobRequests(input, nodeId, count);
  const jobs: Job[] = new Array<Job>(requests.length);
  let next = 0;
  const sender = async () => {
    while (next < requests.length) {
      const index = next++;
      jobs[index] = (await clients.jobs.createJob(requests[index]!)).job!;
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, requests.length) }, sender));
  return jobs;
}

export function submitCommand(): Command {
  return new Command('submit')
    .description('submit a job (from a JSON or YAML job file, or from flags and a command after --)')
    .argument('[command...]', 'the program to run and its arguments, after --')
    .option('-f, --file <file>', 'a job file: JSON (.json) or YAML')
    .option('--name <name>', 'the job name (unique in its namespace)')
    .option('--namespace <namespace>', 'the namespace ("default" when not given)')
    .option('--label <key=value>', 'a job label (repeatable)', keyValuePair)
    .option('--queue <queue>', 'the queue')
    .option('--priority <n>', 'higher runs first', int32)
    .addOption(new Option('--executor <executor>', 'how the compute node runs it').choices([...EXECUTORS]))
    .option('--sleep-ms <ms>', 'sleep executor: how long to sleep', nonNegativeInteger)
    .option('--timeout-ms <ms>', 'how long the run may take', milliseconds)
    .option('--env <NAME=value>', 'exec executor: an environment variable (repeatable)', keyValuePair)
    .option('--constraint <key=value>', 'a label the compute node must have (repeatable)', keyValuePair)
    .option('--max-retries <n>', 'retries after failed attempts before the job FAILS (3 when not given)', nonNegativeInteger)
    .option('--backoff-ms <ms>', 'wait before the first retry, doubling after each', nonNegativeInteger)
    .option('--max-backoff-ms <ms>', 'longest wait between retries', nonNegativeInteger)
    .option('--count <n>', 'submit this many copies', positiveInteger, 1)
    .option('--json', 'print the jobs as JSON')
    .action(
      cliAction(async (command: string[], options: JobFlags & { file?: string; count: number; json?: boolean }, self: Command) => {
        const { server, nodeId, security } = commonOptions(self);
        const input = jobToSubmit(options.file, options, command);
        const clients = connectRequester(server, security);
        try {
          const jobs = await submitJobs(clients, nodeId, input, options.count);
          if (options.json) printJson({ jobs: jobs.map(jobView) });
          else if (jobs.length === 1) process.stdout.write(`${jobs[0]!.id}\n`);
          else process.stdout.write(`${jobs.map((job) => job.id).join('\n')}\n`);
        } finally {
          clients.close();
        }
      }),
    );
}

