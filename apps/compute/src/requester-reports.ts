import { DesiredExecutionState, ExecutionState } from '@jobkeep/api';
import { isJobkeepError, type JobStoreClient } from '@jobkeep/client';
import type { Logger } from './logger.js';
import { stateName } from './execution-writer.js';
import { retryWhileUnreachable } from './transient-retry.js';

/** Which requester view an execution belongs to. */
export interface ReportTarget {
  id: string;
  requesterNodeId: string;
}

/** The compute states after which nothing more happens to a run. */
const FINAL_STATES: readonly ExecutionState[] = [
  ExecutionState.COMPLETED,
  ExecutionState.FAILED,
  ExecutionState.CANCELLED,
  ExecutionState.BID_REJECTED,
];

/**
 * Tells the requester that asked for an execution what its compute state now is
 * (JobStore.UpdateExecution in the requester's database). A step of a run is reported on the
 * condition that the requester has not stopped it: once it has, it has moved on. How the run
 * ended is reported whatever the requester wants, so that its view ends with what happened
 * (a cancelled run shows CANCELLED). A refused report (FAILED_PRECONDITION) or a view that does
 * not exist (NOT_FOUND) is no failure of the run.
 */
export class RequesterReporter {
  constructor(
    private readonly client: JobStoreClient,
    private readonly logger: Logger,
  ) {}

  /** True when the requester's view took the report. */
  async report(target: ReportTarget, state: ExecutionState, message = ''): Promise<boolean> {
    const fields = { executionId: target.id, requesterNodeId: target.requesterNodeId, state: stateName(state) };
    try {
      await retryWhileUnreachable(() =>
        this.client.updateExecution({
          nodeId: target.requesterNodeId,
          executionId: target.id,
          computeState: state,
          message,
          expectedDesiredStates: FINAL_STATES.includes(state) ? [] : [DesiredExecutionState.PENDING, DesiredExecutionState.RUNNING],
        }),
      );
      this.logger.debug(fields, 'reported to requester');
      return true;
    } catch (error) {
      if (isJobkeepError(error) && (error.code === 'FAILED_PRECONDITION' || error.code === 'NOT_FOUND')) {
        this.logger.debug({ ...fields, reason: error.message }, 'report not taken by requester');
      } else {
        this.logger.warn({ ...fields, err: error }, 'report to requester failed');
      }
      return false;
    }
  }
}
