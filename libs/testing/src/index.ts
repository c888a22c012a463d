// What tests of jobkeep's apps share: real processes of the built apps, and their logs.
export { SERVER_MAIN, launchServer, spawnNodeProcess, useNodeProcesses } from './node-processes.js';
export type { LogLine, NodeProcess } from './node-processes.js';
