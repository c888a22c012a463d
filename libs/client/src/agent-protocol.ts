import { JobkeepError } from '@jobkeep/errors';

/**
 * How the requester and compute agents share work through jobkeep. Neither agent talks to the
 * other: each writes to the databases the protocol names, and follows its own database.
 *
 * 1. A requester R takes a job J that is PENDING, or QUEUED with its retry time come, and picks
 *    an online compute node C whose labels match the job's `constraints` and that has a free
 *    slot (its `capacity.slots` minus R's live executions on it).
 * 2. R records its own view of the k-th execution of J first, then asks C for a bid, both
 *    under the same id (`executionIdFor(J, k)`) and request id, so that a requester that
 *    crashes in between repeats the same two creates and never makes a second execution:
 *    - JobStore.CreateExecution(R, { id, jobId: J, computeNodeId: C, desiredState: RUNNING })
 *    - ExecutionStore.CreateExecution(C, { id, jobId: J, requesterNodeId: R, jobSpec: J.spec })
 * 3. C follows its compute database. A CREATED execution is a bid: C accepts it
 *    (BID_ACCEPTED) when it has a free slot and rejects it (BID_REJECTED) otherwise. It then
 *    walks an accepted one through RUNNING and PUBLISHING to COMPLETED, or to FAILED, with a
 *    run result. Every step is written to C's database with `expected_states`, then reported to
 *    R's view with JobStore.UpdateExecution(R, { computeState, message }) on the condition that
 *    R has not stopped it (`expected_desired_states` PENDING or RUNNING); how a run ended
 *    (COMPLETED, FAILED, CANCELLED, BID_REJECTED) is reported without that condition, so that
 *    R's view always ends with what C did.
 * 4. R follows its own database. BID_ACCEPTED moves J to RUNNING. COMPLETED completes J.
 *    FAILED (or C going offline) gives J back (RUNNING → QUEUED, which the store counts as a
 *    retry, with backoff, and FAILS once the job is out of retries); R then tries another
 *    node. BID_REJECTED leaves J where it was and R tries another node at once: a rejection is
 *    no attempt, and costs no retry.
 * 5. Cancelling J (UpdateJobState CANCELLED) makes R stop its live executions: desired state
 *    STOPPED in its view, and CANCELLED in C's database, where C kills the run.
 *    A compute node creates its database at start (with a checkpoint), so that it can be
 *    followed before its first bid arrives.
 * 6. A compute node that restarts fails its live executions (BID_ACCEPTED, RUNNING,
 *    PUBLISHING) with the message "node restart", so that R retries them. A requester that
 *    restarts rescans its non-terminal jobs, and resumes its watch from the revision it saved
 *    in its checkpoint `WATCH_CHECKPOINT`. Either registers through `registerNode` first, which
 *    waits while the node is online under another lease: one agent acts for a node at a time,
 *    and a restarted one starts once its predecessor's lease has ended.
 */

/** The checkpoint in which a requester saves the last revision of its database it has acted on. */
export const WATCH_CHECKPOINT = 'requester/watch-revision';

/** The id of the k-th execution (from 1) of a job, the same on every try of the creates. */
export function executionIdFor(jobId: string, attempt: number): string {
  return `${jobId}.x${attempt}`;
}

/** The attempt number in an id made by `executionIdFor`; 0 for any other id. */
export function attemptOf(executionId: string): number {
  const match = /\.x(\d+)$/.exec(executionId);
  return match === null ? 0 : Number(match[1]);
}

export const EXECUTORS = ['exec', 'sleep', 'noop'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** What a job asks a compute node to run, as its spec says it. */
export interface JobSpec {
  executor: ExecutorName;
  /** exec: the program and its arguments, run without a shell. */
  argv?: string[];
  /** exec: variables to set, on top of those the compute node lets through. */
  env?: Record<string, string>;
  /** sleep: how long to sleep. */
  sleepMs?: number;
  /** exec and sleep: how long the run may take before it is killed and fails. */
  timeoutMs?: number;
  /** Labels a compute node must have to run the job. */
  constraints?: Record<string, string>;
}

/** The longest a run may take, and the default. */
export const SPEC_LIMITS = { maxTimeoutMs: 24 * 3_600_000, defaultTimeoutMs: 3_600_000, maxArgs: 256 } as const;

/**
 * Checks a job's spec as stored (a JSON object); INVALID_ARGUMENT names what is wrong. The
 * requester checks it at submit, the compute node again before running it.
 */
export function parseJobSpec(spec: unknown): JobSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw bad('the spec must be an object');
  const value = spec as Record<string, unknown>;
  const executor = value.executor ?? 'exec';
  if (typeof executor !== 'string' || !(EXECUTORS as readonly string[]).includes(executor)) {
    throw bad(`spec.executor must be one of ${EXECUTORS.join(', ')}, not ${JSON.stringify(executor)}`);
  }
  const parsed: JobSpec = { executor: executor as ExecutorName };
  if (value.argv !== undefined) {
    if (!Array.isArray(value.argv) || value.argv.some((arg) => typeof arg !== 'string')) throw bad('spec.argv must be a list of strings');
    if (value.argv.length > SPEC_LIMITS.maxArgs) throw bad(`spec.argv has ${value.argv.length} items; the limit is ${SPEC_LIMITS.maxArgs}`);
    parsed.argv = value.argv as string[];
  }
  if (parsed.executor === 'exec' && (parsed.argv === undefined || parsed.argv.length === 0 || parsed.argv[0] === '')) {
    throw bad('spec.argv must name the program to run (its first item) for the exec executor');
  }
  if (value.env !== undefined) parsed.env = stringMap('spec.env', value.env);
  if (value.constraints !== undefined) parsed.constraints = stringMap('spec.constraints', value.constraints);
  if (value.sleepMs !== undefined) parsed.sleepMs = milliseconds('spec.sleepMs', value.sleepMs, SPEC_LIMITS.maxTimeoutMs);
  if (value.timeoutMs !== undefined) parsed.timeoutMs = milliseconds('spec.timeoutMs', value.timeoutMs, SPEC_LIMITS.maxTimeoutMs);
  return parsed;
}

function stringMap(what: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((item) => typeof item !== 'string')) {
    throw bad(`${what} must map names to strings`);
  }
  return value as Record<string, string>;
}

function milliseconds(what: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw bad(`${what} must be a whole number of milliseconds from 0 to ${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function bad(message: string): JobkeepError {
  return new JobkeepError('INVALID_ARGUMENT', message);
}
