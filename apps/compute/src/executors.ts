import type { ExecutorName } from '@jobkeep/client';
import { createExecExecutor, type ExecExecutorOptions } from './exec-executor.js';
import type { Executor } from './executor.js';
import { noopExecutor } from './noop-executor.js';
import { sleepExecutor } from './sleep-executor.js';

/** Every executor a job spec may name (EXECUTORS in the agent protocol), by name. */
export type Executors = Record<ExecutorName, Executor>;

export function createExecutors(options: ExecExecutorOptions): Executors {
  return { exec: createExecExecutor(options), sleep: sleepExecutor, noop: noopExecutor };
}
