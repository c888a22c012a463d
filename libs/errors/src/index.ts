export { StatusCode, statusCodeName } from './status-code.js';
export type { StatusCodeName, StatusCodeNumber } from './status-code.js';
export {
  JobkeepError,
  aborted,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  isJobkeepError,
  notFound,
  resourceExhausted,
  unavailable,
} from './jobkeep-error.js';
