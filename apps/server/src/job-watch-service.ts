import { JobEventType, JobState, type CallContext, type WatchJobsRequest } from '@jobkeep/api';
import type { JobEventFilter, JobEventType as StoreJobEventType, JobHistoryFeed, JobState as StoreJobState } from '@jobkeep/store';
import { followHistory, type WatchSettings } from './history-watch.js';
import { jobEventToWire } from './job-wire.js';
import { enumNames, revisionNumber } from './wire-conversions.js';

/** jobkeep.v1.JobStore/WatchJobs over a requester database's history (see followHistory). */
export function watchJobsHandler(history: JobHistoryFeed, settings: WatchSettings) {
  return async function* watchJobs(request: WatchJobsRequest, context: CallContext) {
    const filter: JobEventFilter = {
      types: enumNames<StoreJobEventType>(JobEventType, request.eventTypes, 'event_types'),
      newStates: enumNames<StoreJobState>(JobState, request.states, 'states'),
      jobId: request.jobId,
    };
    const fromRevision = revisionNumber(request.fromRevision, 'from_revision') ?? 0;
    for await (const message of followHistory(history, request.nodeId, fromRevision, filter, context, settings)) {
      yield 'event' in message
        ? { kind: { case: 'event' as const, value: jobEventToWire(message.event) } }
        : { kind: { case: 'progress' as const, value: { revision: BigInt(message.progress) } } };
    }
  };
}
