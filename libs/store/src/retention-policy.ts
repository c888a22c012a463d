import { TERMINAL_EXECUTION_STATES } from './execution-model.js';
import { EXECUTION_STATES, JOB_STATES, TERMINAL_JOB_STATES } from './job-model.js';

/**
 * What retention does to the records of each state. The default, for every state, is to keep
 * everything, as the compute-node design does at restart. A terminal state may delete records
 * older than a duration; a non-terminal state may move records that have not changed for a
 * duration to FAILED. Nothing else is possible, so a non-terminal record is never deleted.
 */
export type RetentionRule = { action: 'delete'; olderThanMs: number } | { action: 'fail'; olderThanMs: number };

/** Rules by state name; a state without a rule is kept. */
export type RetentionPolicy = Readonly<Record<string, RetentionRule>>;

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `90s`, `15m`, `24h` or `7d` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null || Number(match[1]) <= 0) {
    throw new Error(`${JSON.stringify(text)} is not a duration: write a positive number and a unit (ms, s, m, h, d), such as 7d`);
  }
  return Number(match[1]) * UNITS_MS[match[2]!]!;
}

/**
 * Parses a policy written as `STATE=action:duration` pairs separated by commas, e.g.
 * `COMPLETED=delete:7d,FAILED=delete:30d,RUNNING=fail:24h`, or given as an object
 * (`{"COMPLETED": "delete:7d"}`, as in a config file), and checks it against the states of one
 * kind of record. An empty policy keeps everything.
 */
export function parseRetentionPolicy(
  input: string | Readonly<Record<string, string>>,
  states: { all: readonly string[]; terminal: ReadonlySet<string> },
): RetentionPolicy {
  const entries =
    typeof input === 'string'
      ? input
          .split(',')
          .map((pair) => pair.trim())
          .filter((pair) => pair !== '')
          .map((pair) => {
            const [state, rule, ...rest] = pair.split('=');
            if (rule === undefined || rest.length > 0) throw new Error(`${JSON.stringify(pair)} is not STATE=action:duration`);
            return [state!.trim(), rule.trim()] as const;
          })
      : Object.entries(input);
  const policy: Record<string, RetentionRule> = {};
  for (const [state, ruleText] of entries) {
    if (!states.all.includes(state)) throw new Error(`retention names ${state}, which is not one of ${states.all.join(', ')}`);
    if (state in policy) throw new Error(`retention names ${state} twice`);
    const [action, duration, ...rest] = ruleText.split(':');
    if (duration === undefined || rest.length > 0) throw new Error(`${state}=${ruleText}: write action:duration, such as delete:7d`);
    const olderThanMs = parseDuration(duration);
    const terminal = states.terminal.has(state);
    if (action === 'delete' && !terminal) throw new Error(`${state} is not terminal: its records can be failed, never deleted`);
    if (action === 'fail' && terminal) throw new Error(`${state} is terminal: its records can be deleted, not failed`);
    if (action !== 'delete' && action !== 'fail') throw new Error(`${state}=${ruleText}: the action is delete or fail, not ${action}`);
    policy[state] = { action, olderThanMs };
  }
  return policy;
}

/** The policy as text, for logs. */
export function describeRetentionPolicy(policy: RetentionPolicy): string {
  const rules = Object.entries(policy).map(([state, rule]) => `${state}=${rule.action}:${rule.olderThanMs}ms`);
  return rules.length === 0 ? 'keep everything' : rules.join(',');
}

const STATES_BY_KIND = {
  job: { all: JOB_STATES, terminal: TERMINAL_JOB_STATES as ReadonlySet<string> },
  execution: { all: EXECUTION_STATES, terminal: TERMINAL_EXECUTION_STATES as ReadonlySet<string> },
} as const;

/** A retention setting for jobs (requester databases) or executions (compute databases). */
export function parseRetentionSetting(kind: 'job' | 'execution', input: string | Readonly<Record<string, string>>): RetentionPolicy {
  return parseRetentionPolicy(input, STATES_BY_KIND[kind]);
}
