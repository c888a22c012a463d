import { JobState, type Job } from '@jobkeep/api';
import { createJobStoreClient, isJobkeepError, type JobStoreClient } from '@jobkeep/client';
import { createJobRequest, LOAD_NODES } from './write-load.js';
import type { TrackedJob, WriteLedger } from './write-ledger.js';

/**
 * Checks a restarted server against every write acknowledged so far. Writes in doubt are
 * resolved first: a create is looked up by its request id and sent again with it (the reply
 * must be the job already there, never a twin); a state change must have committed whole or
 * not at all. Then every job of every load node is listed: each acknowledged create is there
 * exactly once, at the state and revision of its last acknowledged write, and no job is there
 * that the load never sent. Findings go to `problems`.
 */
export async function checkAfterRestart(address: string, ledger: WriteLedger, problems: string[], cycle: number): Promise<void> {
  const client = createJobStoreClient(address);
  try {
    for (const job of ledger.inDoubtJobs()) {
      if (job.createInDoubt) await resolveCreate(client, job, ledger, problems, cycle);
      else await resolveUpdate(client, job, ledger, problems, cycle);
    }
    const listed = await listAllJobs(client);
    checkListing(listed, ledger, problems, cycle);
  } finally {
    client.close();
  }
}

async function resolveCreate(client: JobStoreClient, job: TrackedJob, ledger: WriteLedger, problems: string[], cycle: number): Promise<void> {
  const found = (await listJobsIfAny(client, { nodeId: job.nodeId, labelSelector: { rid: job.rid } })).jobs;
  if (found.length > 1) problems.push(`after cycle ${cycle}: the create ${job.rid} in doubt left ${found.length} jobs: ${ids(found)}`);
  const reply = await client.createJob(createJobRequest(job.rid, job.nodeId));
  const created = reply.job!;
  if (found.length === 1) {
    ledger.inDoubtCommitted++;
    if (created.id !== found[0]!.id) {
      problems.push(`after cycle ${cycle}: retrying the create ${job.rid}, which had committed as ${found[0]!.id}, made a twin ${created.id}`);
    }
  }
  job.id = created.id;
  job.state = created.state;
  job.revision = created.revision;
  job.createInDoubt = false;
}

async function resolveUpdate(client: JobStoreClient, job: TrackedJob, ledger: WriteLedger, problems: string[], cycle: number): Promise<void> {
  const current = (await client.getJob({ nodeId: job.nodeId, key: { case: 'id', value: job.id! } })).job!;
  const to = job.updateInDoubt!.to;
  const untouched = current.state === job.state && current.revision === job.revision;
  const committed = current.state === to && current.revision > job.revision!;
  if (committed) ledger.inDoubtCommitted++;
  else if (!untouched) {
    problems.push(
      `after cycle ${cycle}: job ${job.id} was ${JobState[job.state!]} at revision ${job.revision} with a move to ${JobState[to]} in doubt, ` +
        `but is ${JobState[current.state]} at revision ${current.revision}`,
    );
  }
  job.state = current.state;
  job.revision = current.revision;
  job.updateInDoubt = undefined;
}

/** Every job of every load node, by its `rid` label. */
async function listAllJobs(client: JobStoreClient): Promise<Map<string, Job[]>> {
  const byRid = new Map<string, Job[]>();
  for (const nodeId of LOAD_NODES) {
    let pageToken = '';
    do {
      const page = await listJobsIfAny(client, { nodeId, pageSize: 1000, pageToken });
      for (const job of page.jobs) {
        const rid = job.labels['rid'] ?? '';
        byRid.set(rid, [...(byRid.get(rid) ?? []), job]);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  }
  return byRid;
}

function checkListing(listed: Map<string, Job[]>, ledger: WriteLedger, problems: string[], cycle: number): void {
  for (const [rid, jobs] of listed) {
    if (!ledger.jobs.has(rid)) problems.push(`after cycle ${cycle}: job(s) ${ids(jobs)} carry rid ${JSON.stringify(rid)}, which the load never sent`);
  }
  for (const job of ledger.jobs.values()) {
    const found = listed.get(job.rid) ?? [];
    ledger.verified++;
    if (found.length === 0) {
      problems.push(`after cycle ${cycle}: job ${job.id} (create ${job.rid}, acknowledged) is gone`);
    } else if (found.length > 1) {
      problems.push(`after cycle ${cycle}: the create ${job.rid} shows as ${found.length} jobs: ${ids(found)}`);
    } else {
      const [present] = found as [Job];
      if (present.id !== job.id || present.state !== job.state || present.revision !== job.revision) {
        problems.push(
          `after cycle ${cycle}: job ${job.id} was acknowledged ${JobState[job.state!]} at revision ${job.revision}, ` +
            `but the server has ${present.id} ${JobState[present.state]} at revision ${present.revision}`,
        );
      }
    }
  }
}

/**
 * ListJobs, with a node that has no database yet read as one without jobs: a kill soon after
 * the start can come before the first write to some node. An acknowledged job of that node
 * then shows as gone.
 */
async function listJobsIfAny(client: JobStoreClient, request: Parameters<JobStoreClient['listJobs']>[0]): Promise<{ jobs: Job[]; nextPageToken: string }> {
  try {
    return await client.listJobs(request);
  } catch (error) {
    if (isJobkeepError(error) && error.code === 'NOT_FOUND' && / has no requester database/.test(error.message)) return { jobs: [], nextPageToken: '' };
    throw error;
  }
}

const ids = (jobs: Job[]) => jobs.map((job) => job.id).join(', ');


