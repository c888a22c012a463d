// A local cluster for scripts run outside a test runner (the demo): no test framework is loaded.
export { COMPUTE_MAIN, LocalCluster, REQUESTER_MAIN } from './local-cluster.js';
export type { ComputeNodeSettings } from './local-cluster.js';
export type { LogLine, NodeProcess } from './node-process.js';
export { eventually, processGone, sleep } from './polling.js';
