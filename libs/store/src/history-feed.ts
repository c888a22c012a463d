import type { ExecutionEventType, ExecutionEvent } from './execution-model.js';
import type { ExecutionState, JobEvent, JobEventType, JobState } from './job-model.js';

/**
 * What a watch needs of one kind of node database: the history read in pages from a revision,
 * where the history starts and ends, and a word after every commit. A watch keeps only a cursor
 * (the next revision to read) and reads the history again when told of a commit, so that what
 * it holds is one page, never a queue of events per watcher. Like the stores, every method
 * takes the node's id first and reading returns promises, so that an implementation on a
 * networked database fits behind the same interface.
 */
export interface HistoryFeed<E extends HistoryEvent, F extends HistoryFilter> {
  /** NOT_FOUND when the node has no database of this kind; nothing is created. */
  bounds(nodeId: string): Promise<HistoryBounds>;
  /**
   * Up to `limit` history rows from `fromRevision` on, of which those matching the filter are
   * returned. OUT_OF_RANGE, naming the oldest available revision, when `fromRevision` has been
   * compacted away; NOT_FOUND as `bounds`.
   */
  readPage(nodeId: string, query: HistoryPageQuery<F>): Promise<HistoryPage<E>>;
  /**
   * Calls `listener` after every commit to the node's database of this kind made through this
   * storage (another process's writes are not heard of: read again now and then). The listener
   * must only take note. Works whether or not the database exists yet; returns the unsubscribe.
   */
  onCommit(nodeId: string, listener: () => void): () => void;
}

/** The fields every history row has, whatever the kind of database. */
export interface HistoryEvent {
  revision: number;
  jobId: string;
  type: string;
  newState: string;
}

export interface HistoryBounds {
  /** The last revision handed out; 0 before the first change. */
  currentRevision: number;
  /** The oldest revision a watch may start from: one past the compacted revision. */
  oldestRevision: number;
}

/** Which rows a watch wants; every part left empty matches all rows. */
export interface HistoryFilter<T extends string = string, S extends string = string> {
  types?: readonly T[];
  /** Rows whose new state is one of these; a row without a new state (a delete) never matches. */
  newStates?: readonly S[];
  /** Rows about this job: the job's own and its executions'. */
  jobId?: string;
}

export type JobEventFilter = HistoryFilter<JobEventType, JobState>;
export type ExecutionEventFilter = HistoryFilter<ExecutionEventType, ExecutionState>;

export interface HistoryPageQuery<F extends HistoryFilter> {
  /** The first revision to read, 1 or more. */
  fromRevision: number;
  filter: F;
  /** How many rows to read at most, matching or not: this bounds the work and memory of a page. */
  limit: number;
}

export interface HistoryPage<E extends HistoryEvent> {
  /** The matching rows, in revision order. */
  events: E[];
  /**
   * Where the next page starts: every matching row from `fromRevision` up to just before this
   * one is in `events`. Never less than `fromRevision`; rows that did not match move it on too.
   */
  nextRevision: number;
  /** The database's current revision in the same snapshot: the page is the last one when `nextRevision` is past it. */
  currentRevision: number;
}

export type JobHistoryFeed = HistoryFeed<JobEvent, JobEventFilter>;
export type ExecutionHistoryFeed = HistoryFeed<ExecutionEvent, ExecutionEventFilter>;
