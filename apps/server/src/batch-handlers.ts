import type { CreateBatchRequest, GetBatchReportRequest, GetBatchRequest, ListBatchesRequest } from '@jobkeep/api';
import type { BatchStore } from '@jobkeep/store';
import { createJobFields, onDuplicate } from './job-input-wire.js';
import { batchToWire, failedJobToWire } from './job-wire.js';
import { lockGuardFromWire } from './lock-guard-wire.js';

/** The batch methods of jobkeep.v1.JobStore. */
export function batchHandlers(batches: BatchStore) {
  return {
    async createBatch(request: CreateBatchRequest) {
      const created = await batches.createBatch(request.nodeId, {
        id: request.batch?.id,
        namespace: request.batch?.namespace,
        labels: request.batch?.labels,
        jobs: request.jobs.map((job, index) => createJobFields(job, `jobs[${index}]`)),
        requestId: request.requestId,
        onDuplicate: onDuplicate(request.onDuplicate),
        lockGuard: lockGuardFromWire(request.lockGuard),
      });
      return { batch: batchToWire(created.batch), jobIds: created.jobIds, revision: BigInt(created.revision) };
    },

    async getBatch(request: GetBatchRequest) {
      return { batch: batchToWire(await batches.getBatch(request.nodeId, request.batchId)) };
    },

    async listBatches(request: ListBatchesRequest) {
      const page = await batches.listBatches(request.nodeId, {
        namespace: request.namespace,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { batches: page.items.map(batchToWire), nextPageToken: page.nextPageToken };
    },

    async getBatchReport(request: GetBatchReportRequest) {
      const report = await batches.getBatchReport(request.nodeId, {
        batchId: request.batchId,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { batch: batchToWire(report.batch), failedJobs: report.failedJobs.map(failedJobToWire), nextPageToken: report.nextPageToken };
    },
  };
}
