import { JobState } from '@jobkeep/api';

/** A state change sent but not answered when the server was killed: it may or may not have committed. */
export interface UpdateInDoubt {
  to: JobState;
}

/**
 * One job the load created, as the replies it received describe it. `id`, `state` and
 * `revision` are those of the last acknowledged write; the server must show exactly them
 * after a restart, unless a write in doubt could have moved the job further.
 */
export interface TrackedJob {
  /** The create's request id, also the job's `rid` label: a twin would show as a second job with it. */
  rid: string;
  nodeId: string;
  /** Unset until the create is acknowledged (or resolved after a kill). */
  id?: string;
  state?: JobState;
  revision?: bigint;
  /** The create was in flight at a kill. */
  createInDoubt: boolean;
  updateInDoubt?: UpdateInDoubt;
  /** A write to it is in flight now: no writer may start another. */
  busy: boolean;
}

/** Every job the load has created or tried to create, and the counts the report gives. */
export class WriteLedger {
  readonly jobs = new Map<string, TrackedJob>();
  /** Writes whose reply arrived. */
  acknowledged = 0;
  /** Writes in flight at a kill. */
  inDoubt = 0;
  /** Of those, the ones found committed after the restart. */
  inDoubtCommitted = 0;
  /** Acknowledged facts checked against a restarted server (a job's existence, state, revision, uniqueness). */
  verified = 0;

  private readonly owned = new Map<number, TrackedJob[]>();

  /** A job writer `writer` is about to create; tracked before the create is sent, so that none escapes the checks. */
  track(writer: number, rid: string, nodeId: string): TrackedJob {
    const job: TrackedJob = { rid, nodeId, createInDoubt: false, busy: true };
    this.jobs.set(rid, job);
    const owned = this.owned.get(writer) ?? [];
    owned.push(job);
    this.owned.set(writer, owned);
    return job;
  }

  /** A job of this writer's recent ones that it may move now, if any: each job has one writer, so writes to it never race. */
  movable(writer: number, recent = 32): TrackedJob | undefined {
    const candidates = (this.owned.get(writer) ?? []).slice(-recent).filter((job) => job.id !== undefined && !job.busy);
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  /** The jobs whose create is known to have committed, in creation order. */
  created(): TrackedJob[] {
    return [...this.jobs.values()].filter((job) => job.id !== undefined);
  }

  /** The jobs with a write in doubt. */
  inDoubtJobs(): TrackedJob[] {
    return [...this.jobs.values()].filter((job) => job.createInDoubt || job.updateInDoubt !== undefined);
  }
}

/** The next state a job is moved to: round and round among states no background task touches. */
export function nextState(state: JobState): JobState {
  return state === JobState.QUEUED ? JobState.HELD : JobState.QUEUED;
}
