// The requester node agent's public surface. Its command line is main.ts (jobkeep-requester).
export { RequesterDaemon, startRequesterDaemon } from './requester-daemon.js';
export { requesterProgram } from './requester-program.js';
export { createJobRequests, jobFromFileAndFlags, jobToSubmit, parseJobDocument, readJobFile } from './job-file.js';
export { NodePicker, matchesConstraints } from './node-picker.js';
export { submitJobs } from './commands/submit.js';
export { jobStatus } from './commands/status.js';
export { listJobs } from './commands/list.js';
export { cancelJob } from './commands/cancel.js';
export { jobRuns } from './commands/logs.js';
export type { CommonOptions, DaemonConfig } from './requester-config.js';
export type { CreateJobInput, JobDocument, JobFlags, JobInput, RetryInput } from './job-file.js';
export type { ComputeNode } from './node-picker.js';
export type { JobStatus } from './commands/status.js';
export type { ExecutionView, JobView, RunView } from './commands/views.js';
