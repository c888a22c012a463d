import { DesiredExecutionState, ExecutionState, JobState, type Job, type JobExecution } from '@jobkeep/api';
import { JobkeepError, attemptOf } from '@jobkeep/client';
import type { Logger } from 'pino';
import type { NodePicker } from './node-picker.js';
import type { RequesterClients } from './requester-clients.js';
import type { Scheduler, StepResult } from './scheduler.js';
import {
  NON_TERMINAL_EXECUTION_STATES,
  TERMINAL_EXECUTION_STATES,
  TERMINAL_JOB_STATES,
  desiredStateName,
  executionStateName,
  jobStateName,
  millis,
} from './wire-values.js';

export interface ExecutionFollowerOptions {
  nodeId: string;
  clients: RequesterClients;
  picker: NodePicker;
  scheduler: Scheduler;
  logger: Logger;
  now?: () => number;
}

/** Steps of one reconcile: each writes once at most, then the job is read again. */
const MAX_STEPS = 8;

const LIVE_DESIRED_STATES = [DesiredExecutionState.PENDING, DesiredExecutionState.RUNNING];
const ACTIVE_COMPUTE_STATES: ReadonlySet<ExecutionState> = new Set([
  ExecutionState.BID_ACCEPTED,
  ExecutionState.RUNNING,
  ExecutionState.WAITING_VERIFICATION,
  ExecutionState.RESULT_ACCEPTED,
  ExecutionState.PUBLISHING,
]);

/** An execution this requester still counts on: not stopped by it, not ended on its node. */
export function isLive(execution: JobExecution): boolean {
  return execution.desiredState !== DesiredExecutionState.STOPPED && !TERMINAL_EXECUTION_STATES.has(execution.computeState);
}

/** The job's current attempt: the execution with the highest attempt number. */
export function latestOf(executions: readonly JobExecution[]): JobExecution | undefined {
  let latest: JobExecution | undefined;
  for (const execution of executions) {
    if (
      latest === undefined ||
      attemptOf(execution.id) > attemptOf(latest.id) ||
      (attemptOf(execution.id) === attemptOf(latest.id) && millis(execution.createTime) >= millis(latest.createTime))
    ) {
      latest = execution;
    }
  }
  return latest;
}

/** How a job's message names an execution: by its attempt (its id is in the job's history). */
function attemptName(execution: JobExecution): string {
  const attempt = attemptOf(execution.id);
  return attempt > 0 ? `attempt ${attempt}` : `execution ${execution.id}`;
}

/**
 * Follows a job through its executions and moves it along, level-triggered: each reconcile
 * reads the job and the requester's view of its executions, and makes the one write that
 * brings them closer to agreement, conditional on what it read, until there is nothing left
 * to do. A repeated event, a restart or a race therefore never doubles a step: the condition
 * of a repeated write fails, and the next read shows what happened.
 *
 * The job's state and its latest execution decide (agent-protocol.ts):
 * - BID_ACCEPTED and later running states make a PENDING or QUEUED job RUNNING;
 * - COMPLETED completes the job;
 * - FAILED, or CANCELLED on the compute side, is a failed attempt: the view is stopped first
 *   (its desired state STOPPED is what marks the attempt as handled), then the RUNNING job is
 *   given back (RUNNING → QUEUED, which the store counts as a retry and FAILS once out of
 *   retries);
 * - BID_REJECTED leaves the job where it is and tries another node: no retry is used;
 * - a live execution on a node that went offline is cancelled on that node and failed in the
 *   view ("node C offline"), then handled as a failed attempt;
 * - a job that ended (cancelled, say) has its live executions stopped: CANCELLED on the
 *   compute side, where the compute agent kills the run, and STOPPED in the view.
 * A PENDING job, or a QUEUED one whose retry time has come, gets its next attempt from the
 * scheduler.
 */
export class ExecutionFollower {
  private readonly now: () => number;

  constructor(private readonly options: ExecutionFollowerOptions) {
    this.now = options.now ?? Date.now;
  }

  async reconcile(jobId: string): Promise<void> {
    const { scheduler } = this.options;
    let seen = '';
    try {
      for (let step = 0; step < MAX_STEPS; step++) {
        const job = await this.readJob(jobId);
        if (job === undefined) {
          scheduler.forget(jobId);
          return;
        }
        const executions = await this.readExecutions(jobId);
        seen = `${jobStateName(job.state)} at revision ${job.revision}, executions ${
          executions.map((e) => `${e.id} ${desiredStateName(e.desiredState)}/${executionStateName(e.computeState)}`).join(', ') || 'none'
        }`;
        this.options.logger.trace({ jobId, seen }, 'reconciling');
        this.observe(job, executions);
        if ((await this.step(job, executions)) === 'done') return;
      }
    } finally {
      // A slot reserved for the job and not used: back to the waiting jobs.
      scheduler.releaseReservation(jobId);
    }
    // Should not happen; if it does, the queue looks again later, with backoff.
    throw new Error(`job ${jobId} still changing after ${MAX_STEPS} steps; last seen ${seen}`);
  }

  /** Counts the job's live executions against their nodes' slots, and frees the others'. */
  private observe(job: Job, executions: readonly JobExecution[]): void {
    const { picker, scheduler } = this.options;
    for (const execution of executions) {
      if (isLive(execution)) {
        picker.track(execution.id, execution.computeNodeId, job.id);
      } else {
        scheduler.forgetExecution(execution.id);
        if (picker.untrack(execution.id)) scheduler.dispatchSoon();
      }
    }
  }

  private async step(job: Job, executions: readonly JobExecution[]): Promise<StepResult> {
    const { scheduler, picker } = this.options;
    if (TERMINAL_JOB_STATES.has(job.state)) {
      scheduler.forget(job.id);
      const reason = job.state === JobState.CANCELLED ? 'job cancelled' : `job ${jobStateName(job.state)}`;
      for (const execution of executions.filter(isLive)) await this.stop(execution, reason);
      return 'done';
    }
    // A held job is an operator's: its executions are left as they are until it is released.
    if (job.state === JobState.HELD) {
      scheduler.forget(job.id);
      return 'done';
    }
    const latest = latestOf(executions);
    const superseded = executions.filter((execution) => execution !== latest && isLive(execution));
    if (superseded.length > 0) {
      for (const execution of superseded) await this.stop(execution, `superseded by ${latest!.id}`);
      return 'again';
    }
    const waiting = job.state === JobState.PENDING || job.state === JobState.QUEUED;

    if (latest !== undefined && latest.desiredState !== DesiredExecutionState.STOPPED) {
      const state = latest.computeState;
      if (state === ExecutionState.CREATED || ACTIVE_COMPUTE_STATES.has(state)) {
        scheduler.forget(job.id);
        if (picker.isOffline(latest.computeNodeId)) return this.abandon(latest);
        if (state === ExecutionState.CREATED) return scheduler.askForBid(job, latest);
        if (waiting && !(await this.moveJob(job, JobState.RUNNING, latest, `${attemptName(latest)} running on ${latest.computeNodeId}`))) {
          return 'again';
        }
        return 'done';
      }
      if (state === ExecutionState.COMPLETED) {
        scheduler.forget(job.id);
        let current: Job | undefined = job;
        if (waiting) current = await this.moveJob(job, JobState.RUNNING, latest, `${attemptName(latest)} running on ${latest.computeNodeId}`);
        const message = `${attemptName(latest)} completed on ${latest.computeNodeId}${latest.stateMessage === '' ? '' : `: ${latest.stateMessage}`}`;
        if (current === undefined || (await this.moveJob(current, JobState.COMPLETED, latest, message)) === undefined) return 'again';
        return 'done';
      }
      if (state === ExecutionState.FAILED || state === ExecutionState.CANCELLED) {
        // An attempt that failed before the job was seen RUNNING still counts as one.
        if (waiting && (await this.moveJob(job, JobState.RUNNING, latest, `${attemptName(latest)} running on ${latest.computeNodeId}`)) === undefined) {
          return 'again';
        }
        await this.updateView(latest, { desiredState: DesiredExecutionState.STOPPED });
        return 'again';
      }
      if (state === ExecutionState.BID_REJECTED) {
        scheduler.coolDown(latest.computeNodeId, millis(latest.modifyTime));
        if (job.state === JobState.RUNNING) {
          await this.updateView(latest, { desiredState: DesiredExecutionState.STOPPED });
          return 'again';
        }
      } else {
        // A state this requester does not know (UNSPECIFIED): wait for the next report.
        return 'done';
      }
    }

    if (latest !== undefined && latest.desiredState === DesiredExecutionState.STOPPED && job.state === JobState.RUNNING) {
      await this.giveBack(job, latest);
      return 'again';
    }
    if (job.state === JobState.PENDING || (job.state === JobState.QUEUED && millis(job.retryTime) <= this.now())) {
      const avoid = latest !== undefined && latest.computeState !== ExecutionState.COMPLETED ? latest.computeNodeId : undefined;
      const attempt = Math.max(0, ...executions.map((execution) => attemptOf(execution.id))) + 1;
      return scheduler.place(job, attempt, avoid);
    }
    if (job.state === JobState.QUEUED) scheduler.wakeAt(job.id, millis(job.retryTime));
    return 'done';
  }

  /**
   * The live execution's node went offline: cancelled on the node (so that a node that comes
   * back does not go on running it), failed in the view. If the node had ended the execution
   * on its own before it went away, that outcome is taken instead: a run that completed is not
   * run again.
   */
  private async abandon(execution: JobExecution): Promise<StepResult> {
    const node = execution.computeNodeId;
    const outcome = await this.cancelOnCompute(execution, `node ${node} went offline; stopped by requester ${this.options.nodeId}`);
    if (!outcome.byUs && outcome.state !== undefined && TERMINAL_EXECUTION_STATES.has(outcome.state)) {
      await this.updateView(execution, { computeState: outcome.state, message: outcome.message ?? '' });
      return 'again';
    }
    this.options.logger.warn({ jobId: execution.jobId, executionId: execution.id, computeNodeId: node }, 'compute node offline');
    await this.updateView(execution, {
      desiredState: DesiredExecutionState.STOPPED,
      computeState: ExecutionState.FAILED,
      message: `node ${node} offline`,
    });
    return 'again';
  }

  /** Stops an execution the job no longer needs: CANCELLED on its node, STOPPED in the view. */
  private async stop(execution: JobExecution, reason: string): Promise<void> {
    const outcome = await this.cancelOnCompute(execution, `${reason}; stopped by requester ${this.options.nodeId}`);
    const ended = !outcome.byUs && outcome.state !== undefined && TERMINAL_EXECUTION_STATES.has(outcome.state);
    await this.updateView(execution, {
      desiredState: DesiredExecutionState.STOPPED,
      computeState: ended ? outcome.state! : ExecutionState.CANCELLED,
      message: ended ? (outcome.message ?? '') : reason,
    });
    this.options.logger.info({ jobId: execution.jobId, executionId: execution.id, computeNodeId: execution.computeNodeId, reason }, 'execution stopped');
  }

  /**
   * Moves the execution to CANCELLED in its compute node's database, on the condition that it
   * has not ended; says what became of it: cancelled by this call, ended already (its state and
   * message), or never created there (no state).
   */
  private async cancelOnCompute(
    execution: JobExecution,
    message: string,
  ): Promise<{ byUs: boolean; state?: ExecutionState; message?: string }> {
    const { executions } = this.options.clients;
    const where = { nodeId: execution.computeNodeId, executionId: execution.id };
    try {
      await executions.updateExecutionState({ ...where, newState: ExecutionState.CANCELLED, message, expectedStates: [...NON_TERMINAL_EXECUTION_STATES] });
      return { byUs: true, state: ExecutionState.CANCELLED };
    } catch (error) {
      if (error instanceof JobkeepError && error.code === 'NOT_FOUND') return { byUs: false };
      if (!(error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION')) throw error;
    }
    const { execution: found } = await executions.getExecution(where);
    return { byUs: false, state: found!.state, message: found!.stateMessage };
  }

  /** RUNNING → QUEUED after a failed attempt: the store counts the retry, or FAILS the job. */
  private async giveBack(job: Job, execution: JobExecution): Promise<void> {
    const what =
      execution.computeState === ExecutionState.FAILED
        ? 'failed'
        : execution.computeState === ExecutionState.CANCELLED
          ? 'was cancelled'
          : execution.computeState === ExecutionState.BID_REJECTED
            ? 'was rejected'
            : `ended ${executionStateName(execution.computeState)}`;
    const message = `${attemptName(execution)} on ${execution.computeNodeId} ${what}${execution.stateMessage === '' ? '' : `: ${execution.stateMessage}`}`;
    const updated = await this.moveJob(job, JobState.QUEUED, execution, message);
    if (updated === undefined) return;
    if (updated.state === JobState.FAILED) this.options.logger.info({ jobId: job.id, message: updated.stateMessage }, 'job failed');
    else this.options.logger.info({ jobId: job.id, message: updated.stateMessage, retryCount: updated.retryCount }, 'job given back for a retry');
  }

  /**
   * A job's state change, on the condition that it is still in the state read (so a repeat
   * or a race changes nothing twice); undefined when that condition failed.
   */
  private async moveJob(job: Job, newState: JobState, execution: JobExecution, message: string): Promise<Job | undefined> {
    try {
      const { job: updated } = await this.options.clients.jobs.updateJobState({
        nodeId: this.options.nodeId,
        jobId: job.id,
        newState,
        message,
        expectedStates: [job.state],
        executionId: execution.id,
      });
      if (newState === JobState.RUNNING || newState === JobState.COMPLETED) {
        this.options.logger.info({ jobId: job.id, executionId: execution.id, computeNodeId: execution.computeNodeId }, `job ${jobStateName(newState).toLowerCase()}`);
      }
      return updated;
    } catch (error) {
      if (error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION') {
        this.options.logger.debug({ jobId: job.id, err: error }, 'job changed meanwhile');
        return undefined;
      }
      throw error;
    }
  }

  /** Changes the view of a live execution; nothing if it has been stopped meanwhile. */
  private async updateView(
    execution: JobExecution,
    change: { desiredState?: DesiredExecutionState; computeState?: ExecutionState; message?: string },
  ): Promise<void> {
    try {
      await this.options.clients.jobs.updateExecution({
        nodeId: this.options.nodeId,
        executionId: execution.id,
        ...change,
        expectedDesiredStates: LIVE_DESIRED_STATES,
      });
    } catch (error) {
      if (!(error instanceof JobkeepError && error.code === 'FAILED_PRECONDITION')) throw error;
      this.options.logger.debug({ jobId: execution.jobId, executionId: execution.id, err: error }, 'execution changed meanwhile');
    }
  }

  private async readJob(jobId: string): Promise<Job | undefined> {
    try {
      return (await this.options.clients.jobs.getJob({ nodeId: this.options.nodeId, key: { case: 'id', value: jobId } })).job;
    } catch (error) {
      if (error instanceof JobkeepError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private async readExecutions(jobId: string): Promise<JobExecution[]> {
    const executions: JobExecution[] = [];
    let pageToken = '';
    do {
      const page = await this.options.clients.jobs.listExecutions({ nodeId: this.options.nodeId, jobId, pageSize: 1000, pageToken });
      executions.push(...page.executions);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return executions;
  }
}
