// The compute node agent's public surface; its command line is main.ts (bin jobkeep-compute).
export { computeCommand, parseComputeConfig, parseLabels } from './compute-config.js';
export { startComputeNode } from './compute-node.js';
export { decideBid } from './bid-decision.js';
export { createExecExecutor, runEnvironment } from './exec-executor.js';
export { createExecutors } from './executors.js';
export { noopExecutor } from './noop-executor.js';
export { sleepExecutor } from './sleep-executor.js';
export { OUTPUT_TAIL_BYTES, TailBuffer } from './tail-buffer.js';
export { PROCESS_GROUPS_CHECKPOINT } from './process-records.js';
export { createLogger } from './logger.js';

export type { ComputeConfig } from './compute-config.js';
export type { ComputeNode, ComputeNodeOptions } from './compute-node.js';
export type { BidContext, BidDecision } from './bid-decision.js';
export type { ExecExecutorOptions } from './exec-executor.js';
export type { Executor, RunContext, RunOutcome } from './executor.js';
export type { Executors } from './executors.js';
export type { Logger } from './logger.js';
