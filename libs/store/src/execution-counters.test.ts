import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkNodeDatabase } from './consistency-check.js';
import { EXECUTION_TRANSITIONS, isTerminalExecutionState } from './execution-transitions.js';
import { EXECUTION_STATES, type ExecutionState } from './job-model.js';
import { rejection, useTempStorage } from './test-support/temp-storage.js';

const NODE = 'compute-walk';
const TRANSITIONS = 10_000;

/** mulberry32: a small seeded generator, so that a failure replays exactly. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('per-state counters', () => {
  const temp = useTempStorage();

  it(`equal a GROUP BY over the rows after ${TRANSITIONS.toLocaleString('en')} random valid transitions`, async () => {
    const { executionStore } = temp.open();
    const random = seededRandom(20260103);
    const index = (length: number) => Math.floor(random() * length);
    const pick = <T>(items: readonly T[]): T => items[index(items.length)]!;
    /** Removes and returns items[i] in O(1), order not kept. */
    const takeAt = (items: string[], i: number): string => {
      const taken = items[i]!;
      items[i] = items[items.length - 1]!;
      items.pop();
      return taken;
    };
    // The test's own model of the database: id → state and revision, and who can still move.
    const live = new Map<string, { state: ExecutionState; revision: number }>();
    const moving: string[] = [];
    const finished: string[] = [];
    let transitions = 0;
    let deletes = 0;
    let refused = 0;
    const visited = new Set<ExecutionState>(['CREATED']);

    while (transitions < TRANSITIONS) {
      const roll = random();
      if (moving.length < 20 || roll < 0.2) {
        const created = await executionStore.createExecution(NODE, { jobId: `job-${index(50)}`, requesterNodeId: 'requester-1' });
        live.set(created.id, { state: created.state, revision: created.revision });
        moving.push(created.id);
      } else if (roll < 0.35 && finished.length > 0) {
        const id = takeAt(finished, index(finished.length));
        await executionStore.deleteExecution(NODE, id, live.get(id)!.revision);
        live.delete(id);
        deletes++;
      } else if (roll < 0.38) {
        // An illegal move or a stale condition changes nothing, and must count nothing.
        const id = pick(random() < 0.5 && finished.length > 0 ? finished : moving);
        const current = live.get(id)!;
        const illegal = EXECUTION_STATES.filter((state) => !EXECUTION_TRANSITIONS[current.state].includes(state));
        await rejection(executionStore.updateExecutionState(NODE, { executionId: id, newState: pick(illegal) }), 'FAILED_PRECONDITION');
        if (!isTerminalExecutionState(current.state)) {
          await rejection(
            executionStore.updateExecutionState(NODE, {
              executionId: id,
              newState: pick(EXECUTION_TRANSITIONS[current.state]),
              expectedRevision: current.revision - 1,
            }),
            'FAILED_PRECONDITION',
          );
        }
        refused++;
      } else {
        const i = index(moving.length);
        const id = moving[i]!;
        const current = live.get(id)!;
        const updated = await executionStore.updateExecutionState(NODE, {
          executionId: id,
          newState: pick(EXECUTION_TRANSITIONS[current.state]),
          expectedRevision: random() < 0.5 ? current.revision : undefined,
          expectedStates: random() < 0.5 ? [current.state] : undefined,
        });
        live.set(id, { state: updated.state, revision: updated.revision });
        visited.add(updated.state);
        if (isTerminalExecutionState(updated.state)) finished.push(takeAt(moving, i));
        transitions++;
      }
    }
    expect(deletes).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(100);
    expect([...visited].sort()).toEqual([...EXECUTION_STATES].sort());

    const counters = await executionStore.getCounters(NODE);
    const file = path.join(temp.dir(), `${NODE}-compute.db`);
    const raw = new Database(file, { readonly: true });
    const grouped = raw.prepare('SELECT state, count(*) AS count FROM executions GROUP BY state').all() as { state: ExecutionState; count: number }[];
    const lastRevision = (raw.prepare('SELECT max(revision) AS revision FROM execution_history').get() as { revision: number }).revision;
    raw.close();

    const expected = Object.fromEntries(EXECUTION_STATES.map((state) => [state, 0]));
    for (const { state, count } of grouped) expected[state] = count;
    expect(counters.counts).toEqual(expected);
    const modelled = Object.fromEntries(EXECUTION_STATES.map((state) => [state, 0]));
    for (const { state } of live.values()) modelled[state]!++;
    expect(counters.counts).toEqual(modelled);
    expect(counters.revision).toBe(lastRevision);
    expect(checkNodeDatabase('compute', file)).toEqual([]);
  }, 120_000);
});
