import type { CallContext } from '@jobkeep/api';
import type { HistoryEvent, HistoryFeed, HistoryFilter } from '@jobkeep/store';
import { followHistory, type WatchSettings } from './history-watch.js';
import { enumNames, revisionNumber, type ProtoEnum } from './wire-conversions.js';

/** The fields WatchJobsRequest and WatchExecutionsRequest share. */
export interface WatchRequest {
  nodeId: string;
  fromRevision: bigint;
  eventTypes: number[];
  states: number[];
  jobId: string;
}

/**
 * A Watch* handler over one kind of history (see followHistory): the request's filters in the
 * store's terms, and each message in the wire's, through the kind's own enums and conversion.
 */
export function watchHandler<E extends HistoryEvent, T extends string, S extends string, W>(
  history: HistoryFeed<E, HistoryFilter<T, S>>,
  wire: { eventTypes: ProtoEnum; states: ProtoEnum; event: (event: E) => W },
  settings: WatchSettings,
) {
  return async function* watch(request: WatchRequest, context: CallContext) {
    // First, so that a watch over the limit is refused before it reads anything; the slot is
    // given back however the watch ends (the bridge ends the generator when the call does).
    const release = settings.slots.take(context.peer);
    try {
      const filter: HistoryFilter<T, S> = {
        types: enumNames<T>(wire.eventTypes, request.eventTypes, 'event_types'),
        newStates: enumNames<S>(wire.states, request.states, 'states'),
        jobId: request.jobId,
      };
      const fromRevision = revisionNumber(request.fromRevision, 'from_revision') ?? 0;
      for await (const message of followHistory(history, request.nodeId, fromRevision, filter, context, settings)) {
        yield 'event' in message
          ? { kind: { case: 'event' as const, value: wire.event(message.event) } }
          : { kind: { case: 'progress' as const, value: { revision: BigInt(message.progress) } } };
      }
    } finally {
      release();
    }
  };
}
