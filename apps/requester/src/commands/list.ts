import { SortDirection, type Job, type JobState } from '@jobkeep/api';
import { Command, InvalidArgumentError } from 'commander';
import { connectRequester, type RequesterClients } from '../requester-clients.js';
import { commonOptions, positiveInteger } from '../requester-config.js';
import { parseJobState } from '../wire-values.js';
import { cliAction } from './cli-action.js';
import { jobView, printJson, short, table } from './views.js';

/** The newest jobs first, in any of `states` (all when empty), at most `limit`. */
export async function listJobs(clients: Pick<RequesterClients, 'jobs'>, nodeId: string, states: JobState[], limit: number): Promise<Job[]> {
  const jobs: Job[] = [];
  let pageToken = '';
  do {
    const page = await clients.jobs.listJobs({
      nodeId,
      states,
      direction: SortDirection.DESCENDING,
      pageSize: Math.min(1000, limit - jobs.length),
      pageToken,
    });
    jobs.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken !== '' && jobs.length < limit);
  return jobs.slice(0, limit);
}

/** Job states from --state flags: names, any case, several per flag separated by commas. */
function states(value: string, previous: JobState[] = []): JobState[] {
  const parsed = value.split(',').filter((name) => name !== '').map((name) => {
    const state = parseJobState(name);
    if (state === undefined) throw new InvalidArgumentError(`unknown job state ${JSON.stringify(name)}; expected PENDING, QUEUED, RUNNING, HELD, COMPLETED, FAILED or CANCELLED`);
    return state;
  });
  return [...previous, ...parsed];
}

export function listCommand(): Command {
  return new Command('list')
    .description('list jobs, newest first')
    .option('--state <states>', 'only jobs in these states (repeatable, or comma-separated)', states)
    .option('--limit <n>', 'at most this many jobs', positiveInteger, 50)
    .option('--json', 'print as JSON')
    .action(
      cliAction(async (options: { state?: JobState[]; limit: number; json?: boolean }, self: Command) => {
        const { server, nodeId, security } = commonOptions(self);
        const clients = connectRequester(server, security);
        try {
          const jobs = (await listJobs(clients, nodeId, options.state ?? [], options.limit)).map(jobView);
          if (options.json) {
            printJson({ jobs });
            return;
          }
          process.stdout.write(
            `${table(
              ['ID', 'NAME', 'STATE', 'RETRIES', 'MESSAGE', 'CREATED'],
              jobs.map((job) => [job.id, job.name, job.state, job.retryCount, short(job.message), job.createTime ?? '']),
            )}\n`,
          );
        } finally {
          clients.close();
        }
      }),
    );
}
