import type { JobState } from './job-model.js';
import { JOB_COLUMNS, JOB_FROM } from './job-rows.js';
import type { Cursor } from './page-token.js';
import type { TimeRange } from './job-store.js';

/** A ListJobs query once its input is checked and defaulted. */
export interface CheckedJobQuery {
  states: JobState[];
  namespace: string;
  labels: [string, string][];
  queue: string;
  batchId: string;
  created: TimeRange;
  modified: TimeRange;
  orderBy: 'createTime' | 'modifyTime';
  descending: boolean;
  pageSize: number;
}

export interface SqlQuery {
  sql: string;
  params: (string | number)[];
}

/**
 * The SQL of one ListJobs page. Every filter is an indexed equality or range (labels through
 * job_labels' (key, value) index), and the keyset cursor is a row-value comparison on the
 * order column and id, which the same indexes serve, so no page costs a scan of the table.
 */
export function buildJobListQuery(query: CheckedJobQuery, cursor: Cursor | undefined): SqlQuery {
  const conditions: string[] = [];
  const params: (string | number)[] = [];
  const where = (condition: string, ...values: (string | number)[]) => {
    conditions.push(condition);
    params.push(...values);
  };

  if (query.states.length > 0) where(`j.state IN (${query.states.map(() => '?').join(', ')})`, ...query.states);
  if (query.namespace !== '') where('j.namespace = ?', query.namespace);
  if (query.queue !== '') where('j.queue = ?', query.queue);
  // The second term lets SQLite use the partial index jobs_by_batch_create.
  if (query.batchId !== '') where("j.batch_id = ? AND j.batch_id <> ''", query.batchId);
  for (const [key, value] of query.labels) {
    where('j.id IN (SELECT job_id FROM job_labels WHERE key = ? AND value = ?)', key, value);
  }
  addRange(where, 'j.create_time', query.created);
  addRange(where, 'j.modify_time', query.modified);

  const column = query.orderBy === 'modifyTime' ? 'j.modify_time' : 'j.create_time';
  const direction = query.descending ? 'DESC' : 'ASC';
  if (cursor !== undefined) where(`(${column}, j.id) ${query.descending ? '<' : '>'} (?, ?)`, ...cursor.after);

  const whereClause = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  // Without statistics SQLite would rather walk the order column's index than sort, even when
  // the only filter is a time range on the other column: that walk reads the whole index. The
  // unary + keeps the order index out of the choice, so the range's index drives the query.
  const otherRange = query.orderBy === 'modifyTime' ? query.created : query.modified;
  const sortKey = otherRange.from !== undefined || otherRange.to !== undefined ? `+${column}` : column;
  return {
    sql: `SELECT ${JOB_COLUMNS} FROM ${JOB_FROM} ${whereClause} ORDER BY ${sortKey} ${direction}, j.id ${direction} LIMIT ?`,
    params: [...params, query.pageSize + 1],
  };
}

function addRange(where: (condition: string, ...values: number[]) => void, column: string, range: TimeRange): void {
  if (range.from !== undefined) where(`${column} >= ?`, range.from);
  if (range.to !== undefined) where(`${column} < ?`, range.to);
}
