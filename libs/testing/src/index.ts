// What tests of jobkeep's apps share: real processes of the built apps, and their logs.
export { SERVER_MAIN, spawnNodeProcess } from './node-process.js';
export type { LogLine, NodeProcess } from './node-process.js';
export { launchServer, useNodeProcesses } from './use-node-processes.js';
export { ADMIN_MAIN, COMPUTE_MAIN, LocalCluster, REQUESTER_MAIN } from './local-cluster.js';
export type { ComputeNodeSettings } from './local-cluster.js';
export { eventually, processGone, sleep } from './polling.js';
export { makeTestCertificates } from './test-certificates.js';
export type { TestCertificates } from './test-certificates.js';
