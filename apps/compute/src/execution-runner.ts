import { ExecutionState, type Execution } from '@jobkeep/api';
import { parseJobSpec, type JobSpec } from '@jobkeep/client';
import { LIVE_STATES, stateName, type ExecutionWriter, type Move } from './execution-writer.js';
import type { Executors } from './executors.js';
import type { RunOutcome } from './executor.js';
import type { Logger } from './logger.js';
import type { ProcessRecords } from './process-records.js';
import type { RequesterReporter } from './requester-reports.js';

/**
 * Why a run is stopped before it ends by itself: the node is shutting down (the run then fails
 * with "node shutting down"), or someone else ended the execution in the database (a
 * requester's CANCELLED), which the run then reports as it finds it.
 */
export type StopReason = { kind: 'shutdown' } | { kind: 'ended-elsewhere' };

/** An execution this node has taken a slot for, from its bid to its last report. */
export interface ActiveExecution {
  readonly id: string;
  readonly requesterNodeId: string;
  /** `running` while its executor runs; `finishing` once the run is over and its result is being written. */
  phase: 'accepting' | 'starting' | 'running' | 'finishing';
  /** Aborted, with a StopReason, to stop the run. */
  readonly controller: AbortController;
  /**
   * Frees the execution's slot. Called as soon as its database says it is over, before that is
   * reported: a requester that hears of it may send the next bid at once, and must find the slot free.
   */
  release(): void;
}

export interface RunnerDependencies {
  writer: ExecutionWriter;
  reporter: RequesterReporter;
  executors: Executors;
  records: ProcessRecords;
  logger: Logger;
}

const TERMINAL_STATES: ReadonlySet<ExecutionState> = new Set([
  ExecutionState.BID_REJECTED,
  ExecutionState.COMPLETED,
  ExecutionState.FAILED,
  ExecutionState.CANCELLED,
]);

export function isTerminal(state: ExecutionState): boolean {
  return TERMINAL_STATES.has(state);
}

/**
 * Walks an execution whose bid this node takes through BID_ACCEPTED, RUNNING and PUBLISHING to
 * COMPLETED or FAILED. Every step is written conditionally on the step before and then reported
 * to the requester, so a concurrent change by someone else (a requester's CANCELLED) wins: the
 * run then stops where it is, kills its processes if it has any, and reports what it found.
 */
export async function runExecution(deps: RunnerDependencies, execution: Execution, active: ActiveExecution): Promise<void> {
  const { writer, reporter, logger } = deps;
  const target = { id: execution.id, requesterNodeId: execution.requesterNodeId };
  const signal = active.controller.signal;
  const fields = { executionId: execution.id, jobId: execution.jobId };
  // What the closures below need to know of how far the run got.
  const progress: { accepted: boolean; outcome?: RunOutcome } = { accepted: false };

  const finished = (state: ExecutionState, message: string) =>
    logger.info({ ...fields, state: stateName(state), exitCode: progress.outcome?.exitCode, message }, 'execution finished');

  /** Reports what someone else made of the execution, once a step of ours was refused. */
  const settle = async (current: Execution | undefined) => {
    if (current === undefined) {
      logger.warn(fields, 'execution deleted during its run');
    } else if (isTerminal(current.state)) {
      active.release();
      await reporter.report(target, current.state, current.stateMessage);
      finished(current.state, current.stateMessage);
    } else {
      logger.warn({ ...fields, state: stateName(current.state) }, 'execution moved by someone else; left as it is');
    }
  };

  /** One step: written, then reported; false when refused, having settled. */
  const step = async (move: Move): Promise<boolean> => {
    const result = await writer.move(execution.id, move);
    if (!result.moved) {
      await settle(result.current);
      return false;
    }
    if (isTerminal(move.to)) active.release();
    await reporter.report(target, move.to, move.message ?? '');
    return true;
  };

  const stopped = async () => {
    const reason = signal.reason as StopReason;
    if (reason.kind === 'ended-elsewhere') return settle(await writer.get(execution.id));
    const message = 'node shutting down';
    if (!progress.accepted) {
      if (await step({ to: ExecutionState.BID_REJECTED, from: [ExecutionState.CREATED], message })) logger.info({ ...fields, reason: message }, 'bid rejected');
      return;
    }
    if (await step({ to: ExecutionState.FAILED, from: LIVE_STATES, message, runResult: progress.outcome && runResultOf(progress.outcome) })) {
      finished(ExecutionState.FAILED, message);
    }
  };

  if (signal.aborted) return stopped();
  if (!(await step({ to: ExecutionState.BID_ACCEPTED, from: [ExecutionState.CREATED] }))) return;
  progress.accepted = true;
  logger.info(fields, 'bid accepted');

  active.phase = 'starting';
  if (signal.aborted) return stopped();
  if (!(await step({ to: ExecutionState.RUNNING, from: [ExecutionState.BID_ACCEPTED] }))) return;
  if (signal.aborted) return stopped();

  let spec: JobSpec;
  try {
    spec = parseJobSpec(execution.jobSpec ?? {});
  } catch (error) {
    const message = `invalid job spec: ${(error as Error).message}`;
    if (await step({ to: ExecutionState.FAILED, from: [ExecutionState.RUNNING], message })) finished(ExecutionState.FAILED, message);
    return;
  }

  active.phase = 'running';
  logger.info({ ...fields, executor: spec.executor }, 'execution started');
  let pgid: number | undefined;
  const outcome = await deps.executors[spec.executor](spec, {
    signal,
    onSpawn: (pid) => {
      pgid = pid;
      logger.info({ ...fields, childPid: pid }, 'process started');
      void deps.records.add(execution.id, pid);
    },
  });
  progress.outcome = outcome;
  if (pgid !== undefined) void deps.records.remove(execution.id);
  active.phase = 'finishing';
  if (outcome.stopped) return stopped();

  if (!(await step({ to: ExecutionState.PUBLISHING, from: [ExecutionState.RUNNING] }))) return;
  const final = outcome.failure === undefined ? ExecutionState.COMPLETED : ExecutionState.FAILED;
  const message = outcome.failure ?? '';
  if (await step({ to: final, from: [ExecutionState.PUBLISHING], message, runResult: runResultOf(outcome) })) finished(final, message);
}

function runResultOf(outcome: RunOutcome) {
  return { exitCode: outcome.exitCode, stdoutTail: outcome.stdoutTail, stderrTail: outcome.stderrTail };
}
