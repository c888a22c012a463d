// jobkeep-admin's program and the views it prints with --json, for tests and scripts in this repo.
export { adminProgram, runAdmin } from './admin-program.js';
export type { AdminBackend, ExportStream, ProgressListener } from './admin-backend.js';
export type * from './admin-views.js';
