import * as grpc from '@grpc/grpc-js';
import { JobStore, grpcServiceDefinition, implementService } from '@jobkeep/api';

/**
 * The baseline: the same service over the same bridge, answering CreateJob and GetJob without
 * touching storage. The difference between it and jobkeep is what storage costs.
 */
const server = new grpc.Server();
server.addService(
  grpcServiceDefinition(JobStore),
  implementService(JobStore, {
    async createJob(request) {
      const job = request.job;
      return { job: { id: job?.id || 'j-echo', labels: job?.labels, spec: job?.spec, state: job?.state, revision: 1n, version: 1n } };
    },
    async getJob(request) {
      return { job: { id: request.key.value ?? '' } };
    },
  }),
);
server.bindAsync(process.argv[2] ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ msg: 'echo serving', address: `127.0.0.1:${port}` }));
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
