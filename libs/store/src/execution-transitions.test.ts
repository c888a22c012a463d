import { describe, expect, it } from 'vitest';
import { EXECUTION_TRANSITIONS, checkExecutionTransition, isTerminalExecutionState } from './execution-transitions.js';
import { EXECUTION_STATES, type ExecutionState } from './job-model.js';

describe('the execution state machine', () => {
  it('ends in BID_REJECTED, COMPLETED, FAILED and CANCELLED, and nowhere else', () => {
    expect(EXECUTION_STATES.filter(isTerminalExecutionState)).toEqual(['BID_REJECTED', 'COMPLETED', 'FAILED', 'CANCELLED']);
    for (const state of EXECUTION_STATES) {
      expect(EXECUTION_TRANSITIONS[state].length === 0, state).toBe(isTerminalExecutionState(state));
    }
  });

  it('lets anything not yet terminal fail or be cancelled, and reaches every state from CREATED', () => {
    const reached = new Set<ExecutionState>(['CREATED']);
    for (let frontier: ExecutionState[] = ['CREATED']; frontier.length > 0; ) {
      frontier = frontier.flatMap((state) => EXECUTION_TRANSITIONS[state]).filter((state) => !reached.has(state));
      for (const state of frontier) reached.add(state);
    }
    expect([...reached].sort()).toEqual([...EXECUTION_STATES].sort());
    for (const state of EXECUTION_STATES.filter((s) => !isTerminalExecutionState(s))) {
      expect(EXECUTION_TRANSITIONS[state]).toEqual(expect.arrayContaining(['FAILED', 'CANCELLED']));
    }
  });

  it('names the allowed moves, or that the state is terminal, and the current revision', () => {
    expect(() => checkExecutionTransition('e-1', 'BID_ACCEPTED', 'COMPLETED', 7)).toThrow(
      'execution e-1 cannot move from BID_ACCEPTED to COMPLETED (allowed from BID_ACCEPTED: RUNNING, FAILED, CANCELLED); current revision 7',
    );
    expect(() => checkExecutionTransition('e-1', 'COMPLETED', 'RUNNING', 9)).toThrow(/COMPLETED is terminal.*revision 9/);
    expect(() => checkExecutionTransition('e-1', 'RUNNING', 'PUBLISHING', 3)).not.toThrow();
  });
});
