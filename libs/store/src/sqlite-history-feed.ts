import { invalidArgument } from '@jobkeep/errors';
import type { DatabasePool } from './database-pool.js';
import type { NodeDatabaseKind } from './database-locations.js';
import { EXECUTION_EVENT_TYPES, type ExecutionEvent } from './execution-model.js';
import type {
  ExecutionEventFilter,
  HistoryBounds,
  HistoryEvent,
  HistoryFeed,
  HistoryFilter,
  HistoryPage,
  HistoryPageQuery,
  JobEventFilter,
} from './history-feed.js';
import { selectHistoryBounds, selectHistoryPage } from './history-reads.js';
import { checkNodeId, checkOptionalIdentifier } from './identifiers.js';
import { EXECUTION_STATES, JOB_EVENT_TYPES, JOB_STATES, type JobEvent } from './job-model.js';
import { checkOneOf } from './job-validation.js';
import { MAX_PAGE_SIZE } from './page-token.js';

/**
 * The history feed of one kind of node database on SQLite. Each call checks its input, then
 * reads in one read transaction; commits are heard of through the pool's notifier, which is
 * kept by kind and node rather than by open file, so a watch outlives the LRU's evictions.
 */
export class SqliteHistoryFeed<E extends HistoryEvent, F extends HistoryFilter> implements HistoryFeed<E, F> {
  constructor(
    private readonly pool: DatabasePool,
    private readonly kind: NodeDatabaseKind,
    private readonly vocabulary: { types: readonly string[]; states: readonly string[] },
  ) {}

  async bounds(nodeId: string): Promise<HistoryBounds> {
    const db = this.pool.get(this.kind, checkNodeId(nodeId), false);
    return db.read(() => selectHistoryBounds(db, this.kind));
  }

  async readPage(nodeId: string, query: HistoryPageQuery<F>): Promise<HistoryPage<E>> {
    checkNodeId(nodeId);
    const { fromRevision, limit } = query;
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 1) {
      throw invalidArgument(`a history page starts at revision 1 or later, not ${fromRevision}`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw invalidArgument(`a history page holds 1 to ${MAX_PAGE_SIZE} rows, not ${limit}`);
    }
    const filter = this.checkFilter(query.filter);
    const db = this.pool.get(this.kind, nodeId, false);
    // The kind fixes the row type: E is what this kind's table holds (see the factories below).
    return db.read(() => selectHistoryPage(db, this.kind, fromRevision, filter, limit) as HistoryPage<E>);
  }

  onCommit(nodeId: string, listener: () => void): () => void {
    return this.pool.commits.subscribe(this.kind, checkNodeId(nodeId), listener);
  }

  private checkFilter(filter: F): HistoryFilter {
    return {
      types: (filter.types ?? []).map((type) => checkOneOf('event type', this.vocabulary.types, type)),
      newStates: (filter.newStates ?? []).map((state) => checkOneOf('state', this.vocabulary.states, state)),
      jobId: checkOptionalIdentifier('job_id', filter.jobId),
    };
  }
}

export function jobHistoryFeed(pool: DatabasePool): SqliteHistoryFeed<JobEvent, JobEventFilter> {
  return new SqliteHistoryFeed(pool, 'requester', { types: JOB_EVENT_TYPES, states: JOB_STATES });
}

export function executionHistoryFeed(pool: DatabasePool): SqliteHistoryFeed<ExecutionEvent, ExecutionEventFilter> {
  return new SqliteHistoryFeed(pool, 'compute', { types: EXECUTION_EVENT_TYPES, states: EXECUTION_STATES });
}
