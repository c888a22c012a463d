import { EXECUTION_COLUMNS, EXECUTION_FROM, EXECUTION_JOINS } from './execution-rows.js';
import type { ExecutionState } from './job-model.js';
import type { SqlQuery } from './job-list-query.js';
import type { Cursor } from './page-token.js';

/** A ListExecutions query once its input is checked and defaulted; '' and [] mean "any". */
export interface CheckedExecutionQuery {
  jobId: string;
  states: ExecutionState[];
  requesterNodeId: string;
  descending: boolean;
  pageSize: number;
}

type Params = (string | number)[];

/**
 * The SQL of one ListExecutions page. Each filter column leads an index that ends in
 * (modify_time, id), the list order, so SQLite seeks to the filter and the keyset cursor and
 * reads the page in order; no page costs a scan of the table.
 *
 * Several states cannot be read in order from one seek of the state index: `state IN (...)`
 * would read every row in those states and sort them, on every page. Instead each state gets
 * its own ordered, limited seek, and only those few candidates are merged, so a page costs at
 * most (page size + 1) rows per state however many executions the states hold.
 */
export function buildExecutionListQuery(query: CheckedExecutionQuery, cursor: Cursor | undefined): SqlQuery {
  const direction = query.descending ? 'DESC' : 'ASC';
  const order = `ORDER BY e.modify_time ${direction}, e.id ${direction}`;
  const limit = query.pageSize + 1;
  if (query.states.length <= 1) {
    const { where, params } = conditions(query, query.states[0], cursor);
    return { sql: `SELECT ${EXECUTION_COLUMNS} FROM ${EXECUTION_FROM} ${where} ${order} LIMIT ?`, params: [...params, limit] };
  }
  const branches: string[] = [];
  const params: Params = [];
  for (const state of query.states) {
    const branch = conditions(query, state, cursor);
    branches.push(`SELECT * FROM (SELECT e.id, e.modify_time FROM executions e ${branch.where} ${order} LIMIT ?)`);
    params.push(...branch.params, limit);
  }
  const candidates = `${branches.join(' UNION ALL ')} ORDER BY modify_time ${direction}, id ${direction} LIMIT ?`;
  return {
    sql: `WITH page AS (${candidates})
      SELECT ${EXECUTION_COLUMNS} FROM page p JOIN executions e ON e.id = p.id ${EXECUTION_JOINS} ${order}`,
    params: [...params, limit],
  };
}

function conditions(query: CheckedExecutionQuery, state: ExecutionState | undefined, cursor: Cursor | undefined): { where: string; params: Params } {
  const clauses: string[] = [];
  const params: Params = [];
  const where = (clause: string, ...values: Params) => {
    clauses.push(clause);
    params.push(...values);
  };
  if (query.jobId !== '') where('e.job_id = ?', query.jobId);
  if (query.requesterNodeId !== '') where('e.requester_node_id = ?', query.requesterNodeId);
  if (state !== undefined) where('e.state = ?', state);
  if (cursor !== undefined) where(`(e.modify_time, e.id) ${query.descending ? '<' : '>'} (?, ?)`, ...cursor.after);
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}
