import type {
  ClaimJobRequest,
  HoldJobRequest,
  HoldQueueRequest,
  ListQueueHoldsRequest,
  ReleaseJobRequest,
  ReleaseQueueRequest,
} from '@jobkeep/api';
import type { HoldJobInput, WorkQueueStore } from '@jobkeep/store';
import { storeNumber } from './coordination-wire.js';
import { jobToWire, queueHoldToWire } from './job-wire.js';
import { lockGuardFromWire } from './lock-guard-wire.js';
import { revisionNumber } from './wire-conversions.js';

/** The work-queue methods of jobkeep.v1.JobStore: claims and holds. */
export function workQueueHandlers(queues: WorkQueueStore) {
  return {
    async claimJob(request: ClaimJobRequest) {
      const claimed = await queues.claimJob(request.nodeId, {
        queue: request.queue,
        leaseId: storeNumber(request.leaseId, 'lease_id'),
        worker: request.worker,
      });
      return { job: claimed.job && jobToWire(claimed.job), queueHeld: claimed.queueHeld };
    },

    async holdJob(request: HoldJobRequest) {
      return { job: jobToWire(await queues.holdJob(request.nodeId, holdInput(request))) };
    },

    async releaseJob(request: ReleaseJobRequest) {
      return { job: jobToWire(await queues.releaseJob(request.nodeId, holdInput(request))) };
    },

    async holdQueue(request: HoldQueueRequest) {
      const hold = await queues.holdQueue(request.nodeId, {
        queue: request.queue,
        message: request.message,
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { hold: queueHoldToWire(hold) };
    },

    async releaseQueue(request: ReleaseQueueRequest) {
      return { released: await queues.releaseQueue(request.nodeId, request.queue, lockGuardFromWire(request.lockGuard)) };
    },

    async listQueueHolds(request: ListQueueHoldsRequest) {
      const page = await queues.listQueueHolds(request.nodeId, { pageSize: request.pageSize, pageToken: request.pageToken });
      return { holds: page.items.map(queueHoldToWire), nextPageToken: page.nextPageToken };
    },
  };
}

function holdInput(request: HoldJobRequest | ReleaseJobRequest): HoldJobInput {
  return {
    jobId: request.jobId,
    message: request.message,
    expectedRevision: revisionNumber(request.expectedRevision, 'expected_revision'),
    lockGuard: lockGuardFromWire(request.lockGuard),
  };
}
