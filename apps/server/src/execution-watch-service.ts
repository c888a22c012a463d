import { ExecutionEventType, ExecutionState, type CallContext, type WatchExecutionsRequest } from '@jobkeep/api';
import type {
  ExecutionEventFilter,
  ExecutionEventType as StoreExecutionEventType,
  ExecutionHistoryFeed,
  ExecutionState as StoreExecutionState,
} from '@jobkeep/store';
import { executionEventToWire } from './execution-wire.js';
import { followHistory, type WatchSettings } from './history-watch.js';
import { enumNames, revisionNumber } from './wire-conversions.js';

/**
 * jobkeep.v1.ExecutionStore/WatchExecutions over a compute database's history (see
 * followHistory); merged into the ExecutionStore's handlers where the server registers them.
 */
export function executionWatchHandlers(history: ExecutionHistoryFeed, settings: WatchSettings) {
  return {
    async *watchExecutions(request: WatchExecutionsRequest, context: CallContext) {
      const filter: ExecutionEventFilter = {
        types: enumNames<StoreExecutionEventType>(ExecutionEventType, request.eventTypes, 'event_types'),
        newStates: enumNames<StoreExecutionState>(ExecutionState, request.states, 'states'),
        jobId: request.jobId,
      };
      const fromRevision = revisionNumber(request.fromRevision, 'from_revision') ?? 0;
      for await (const message of followHistory(history, request.nodeId, fromRevision, filter, context, settings)) {
        yield 'event' in message
          ? { kind: { case: 'event' as const, value: executionEventToWire(message.event) } }
          : { kind: { case: 'progress' as const, value: { revision: BigInt(message.progress) } } };
      }
    },
  };
}
