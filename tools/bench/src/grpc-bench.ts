import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { measure, type Measurement } from './measure.js';
import { withJobkeepAndEcho } from './server-process.js';

/**
 * CreateJob and GetJob through gRPC against the real server (a separate process, synchronous=FULL
 * on this machine's disk) and, as the baseline, against the echo server, with the same client.
 */
export function grpcBench(scale: number): Promise<Measurement[]> {
  return withJobkeepAndEcho(async ({ jobkeep, echo }) => {
    const results: Measurement[] = [];
    for (const concurrency of [1, 16]) {
      for (const [label, server] of [['echo baseline', echo], ['jobkeep', jobkeep]] as const) {
        const client = createJobStoreClient(server.address);
        const options = { ops: 2000 * scale, warmup: 500 * scale, concurrency, serverPid: server.child.pid! };
        results.push(
          await measure(`CreateJob, ${concurrency} in flight, ${label}`, options, (i) =>
            client.createJob({ nodeId: `bench-${concurrency}`, job: { labels: { shard: `s${i % 8}` }, state: JobState.QUEUED, spec: { image: 'bench:1', args: ['--n', String(i)] } } }),
          ),
        );
        const { job } = await client.createJob({ nodeId: `bench-${concurrency}`, job: {} });
        results.push(
          await measure(`GetJob, ${concurrency} in flight, ${label}`, options, () =>
            client.getJob({ nodeId: `bench-${concurrency}`, key: { case: 'id', value: job!.id } }),
          ),
        );
        client.close();
      }
    }
    return results;
  });
}
