import {
  ExecutionEventType,
  ExecutionState,
  SortDirection,
  type CreateExecutionRequest,
  type DeleteExecutionRequest,
  type GetCountersRequest,
  type GetExecutionHistoryRequest,
  type GetExecutionRequest,
  type ListExecutionsRequest,
  type UpdateExecutionStateRequest,
} from '@jobkeep/api';
import type { ExecutionHistoryFeed, ExecutionState as StoreExecutionState, ExecutionStore, JsonObject } from '@jobkeep/store';
import type { WatchSettings } from './history-watch.js';
import { watchHandler } from './watch-handler.js';
import { lockGuardFromWire } from './lock-guard-wire.js';
import { countersToWire, executionEventToWire, executionToWire, runResultFromWire } from './execution-wire.js';
import { enumName, enumNames, required, requiredEnumName, revisionNumber } from './wire-conversions.js';

/**
 * jobkeep.v1.ExecutionStore (but WatchExecutions, merged in where the server registers the
 * service): each handler turns its request into a store call and the stored record back into a
 * response. Requests arrive checked against their rules (execution-store-requests.ts); the store
 * checks content again for its other callers.
 */
export function executionStoreHandlers(store: ExecutionStore, watch: { history: ExecutionHistoryFeed; settings: WatchSettings }) {
  return {
    async createExecution(request: CreateExecutionRequest) {
      const execution = required(request.execution, 'execution');
      // Output-only fields (revision, times, run_result) are ignored, as the protocol says.
      const created = await store.createExecution(request.nodeId, {
        id: execution.id,
        jobId: execution.jobId,
        requesterNodeId: execution.requesterNodeId,
        jobSpec: execution.jobSpec as JsonObject | undefined,
        state: enumName<StoreExecutionState>(ExecutionState, execution.state, 'execution.state'),
        stateMessage: execution.stateMessage,
        requestId: request.requestId,
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { execution: executionToWire(created) };
    },

    async getExecution(request: GetExecutionRequest) {
      return { execution: executionToWire(await store.getExecution(request.nodeId, request.executionId)) };
    },

    async listExecutions(request: ListExecutionsRequest) {
      const direction = enumName<'ASCENDING' | 'DESCENDING'>(SortDirection, request.direction, 'direction');
      const page = await store.listExecutions(request.nodeId, {
        jobId: request.jobId,
        states: enumNames<StoreExecutionState>(ExecutionState, request.states, 'states'),
        requesterNodeId: request.requesterNodeId,
        descending: direction === 'DESCENDING',
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { executions: page.items.map(executionToWire), nextPageToken: page.nextPageToken };
    },

    async updateExecutionState(request: UpdateExecutionStateRequest) {
      const execution = await store.updateExecutionState(request.nodeId, {
        executionId: request.executionId,
        newState: requiredEnumName<StoreExecutionState>(ExecutionState, request.newState, 'new_state'),
        message: request.message,
        expectedStates: enumNames<StoreExecutionState>(ExecutionState, request.expectedStates, 'expected_states'),
        expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
        runResult: runResultFromWire(request.runResult),
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { execution: executionToWire(execution) };
    },

    async deleteExecution(request: DeleteExecutionRequest) {
      const revision = await store.deleteExecution(
        request.nodeId,
        request.executionId,
        revisionNumber(request.expectedRevision, 'expected_revision'),
        lockGuardFromWire(request.lockGuard),
      );
      return { revision: BigInt(revision) };
    },

    async getExecutionHistory(request: GetExecutionHistoryRequest) {
      const page = await store.getExecutionHistory(request.nodeId, {
        executionId: request.executionId,
        fromRevision: revisionNumber(request.fromRevision, 'from_revision'),
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { events: page.items.map(executionEventToWire), nextPageToken: page.nextPageToken };
    },

    async getCounters(request: GetCountersRequest) {
      return countersToWire(await store.getCounters(request.nodeId));
    },

    watchExecutions: watchHandler(
      watch.history,
      { eventTypes: ExecutionEventType, states: ExecutionState, event: executionEventToWire },
      watch.settings,
    ),
  };
}
