import { ExecutionState, type Execution } from '@jobkeep/api';
import { isJobkeepError, type ExecutionStoreClient } from '@jobkeep/client';
import { retryWhileUnreachable } from './transient-retry.js';

/** What RunResult holds, as a plain object the client accepts. */
export interface RunResultFields {
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
}

/** A conditional state change: made, or refused because the execution had moved on (or is gone). */
export type MoveResult = { moved: true; execution: Execution } | { moved: false; current: Execution | undefined };

export interface Move {
  to: ExecutionState;
  /** The states the execution must be in for the change to be made. */
  from: readonly ExecutionState[];
  message?: string;
  runResult?: RunResultFields;
}

/**
 * State changes of the executions in this node's compute database, each conditional on the
 * state the run expects, so that a concurrent change (a requester's CANCELLED) wins and the run
 * learns of it instead of overwriting it.
 */
export class ExecutionWriter {
  constructor(
    private readonly client: ExecutionStoreClient,
    readonly nodeId: string,
  ) {}

  async move(executionId: string, move: Move): Promise<MoveResult> {
    return retryWhileUnreachable(async (tries) => {
      try {
        const { execution } = await this.client.updateExecutionState({
          nodeId: this.nodeId,
          executionId,
          newState: move.to,
          message: move.message ?? '',
          expectedStates: [...move.from],
          runResult: move.runResult,
        });
        return { moved: true, execution: execution! };
      } catch (error) {
        if (!isJobkeepError(error) || (error.code !== 'FAILED_PRECONDITION' && error.code !== 'NOT_FOUND')) throw error;
        const current = await this.get(executionId);
        // A repeat refused because the try whose reply was lost made the change already.
        if (tries > 1 && current?.state === move.to) return { moved: true, execution: current };
        return { moved: false, current };
      }
    });
  }

  /** The execution as stored now; undefined when it is gone. */
  async get(executionId: string): Promise<Execution | undefined> {
    try {
      return (await this.client.getExecution({ nodeId: this.nodeId, executionId })).execution;
    } catch (error) {
      if (isJobkeepError(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** Every execution of this node in one of `states`, oldest change first. */
  async listInStates(states: readonly ExecutionState[]): Promise<Execution[]> {
    const found: Execution[] = [];
    let pageToken = '';
    do {
      const page = await this.client.listExecutions({ nodeId: this.nodeId, states: [...states], pageSize: 1000, pageToken });
      found.push(...page.executions);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return found;
  }
}

/** The states an execution is in while this node owes it work: accepted and not yet finished. */
export const LIVE_STATES = [ExecutionState.BID_ACCEPTED, ExecutionState.RUNNING, ExecutionState.PUBLISHING] as const;

export function stateName(state: ExecutionState): string {
  return ExecutionState[state] ?? String(state);
}
