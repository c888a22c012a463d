import { JobState } from '@jobkeep/api';
import { createJobStoreClient, type JobStoreClient } from '@jobkeep/client';
import { nextState, type TrackedJob, type WriteLedger } from './write-ledger.js';

/** The requester nodes the load writes to: several database files take writes at each kill. */
export const LOAD_NODES = ['crash-a', 'crash-b', 'crash-c', 'crash-d'];

/** The share of writes that move an existing job rather than create one. */
const UPDATE_SHARE = 0.35;

/** The create of job `rid`, the same bytes each time it is sent, as a retry with a request id must be. */
export function createJobRequest(rid: string, nodeId: string) {
  return { nodeId, requestId: rid, job: { labels: { rid }, state: JobState.PENDING, spec: { rid } } };
}

export interface WriteLoad {
  /** No writer starts another write; the ones in flight run on (until the kill ends them). */
  stop(): void;
  /** Every writer has returned. */
  finished: Promise<void>;
}

/**
 * Starts `writers` concurrent writers against the server at `address`, each sending one durable
 * write at a time: CreateJob with an explicit request id, or UpdateJobState of one of its own
 * jobs at its acknowledged revision. grpc-js retries are off, so that a write in flight at the
 * kill fails instead of being sent again behind the suite's back.
 */
export function startWriteLoad(address: string, writers: number, cycle: number, ledger: WriteLedger, problems: string[]): WriteLoad {
  let stopped = false;
  const writer = async (index: number) => {
    const client = createJobStoreClient(address, { retries: false });
    try {
      for (let seq = 0; !stopped; seq++) {
        const job = Math.random() < UPDATE_SHARE ? ledger.movable(index) : undefined;
        const ok = job === undefined ? await create(client, index, seq) : await move(client, job);
        // A write refused while the server was up is a finding; this writer stops rather than spin.
        if (!ok && !stopped) return;
      }
    } finally {
      client.close();
    }
  };

  const create = async (client: JobStoreClient, index: number, seq: number): Promise<boolean> => {
    const rid = `w${index}-c${cycle}-${seq}`;
    const job = ledger.track(index, rid, LOAD_NODES[seq % LOAD_NODES.length]!);
    try {
      const reply = await client.createJob(createJobRequest(rid, job.nodeId));
      if (reply.job === undefined) throw new Error('the reply has no job');
      job.id = reply.job.id;
      job.state = reply.job.state;
      job.revision = reply.job.revision;
      ledger.acknowledged++;
      return true;
    } catch (error) {
      if (!stopped) problems.push(`cycle ${cycle}: create ${rid} failed before the kill: ${describe(error)}`);
      job.createInDoubt = true;
      ledger.inDoubt++;
      return false;
    } finally {
      job.busy = false;
    }
  };

  const move = async (client: JobStoreClient, job: TrackedJob): Promise<boolean> => {
    job.busy = true;
    const to = nextState(job.state!);
    try {
      const reply = await client.updateJobState({ nodeId: job.nodeId, jobId: job.id!, newState: to, expectedRevision: job.revision! });
      const updated = reply.job;
      if (updated?.state !== to || updated.revision <= job.revision!) {
        problems.push(`cycle ${cycle}: job ${job.id} was moved to ${JobState[to]}, but the reply says ${updated ? JobState[updated.state] : 'nothing'} at revision ${updated?.revision}`);
      }
      job.state = updated?.state ?? job.state;
      job.revision = updated?.revision ?? job.revision;
      ledger.acknowledged++;
      return true;
    } catch (error) {
      if (!stopped) problems.push(`cycle ${cycle}: moving job ${job.id} to ${JobState[to]} failed before the kill: ${describe(error)}`);
      job.updateInDoubt = { to };
      ledger.inDoubt++;
      return false;
    } finally {
      job.busy = false;
    }
  };

  const finished = Promise.all(Array.from({ length: writers }, (_, index) => writer(index))).then(() => undefined);
  return { stop: () => (stopped = true), finished };
}

export function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
