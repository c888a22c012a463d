import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JobState } from '@jobkeep/api';
import { createJobStoreClient } from '@jobkeep/client';
import { measure, type Measurement } from './measure.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_MAIN = path.join(ROOT, 'apps/server/dist/main.js');
const ECHO_MAIN = fileURLToPath(new URL('./echo-server.js', import.meta.url));

/**
 * CreateJob and GetJob through gRPC against the real server (a separate process, synchronous=FULL
 * on this machine's disk) and, as the baseline, against the echo server, with the same client.
 */
export async function grpcBench(scale: number): Promise<Measurement[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobkeep-bench-'));
  const servers: ServerProcess[] = [];
  try {
    const jobkeep = await startServerProcess(SERVER_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir], 'jobkeep serving');
    servers.push(jobkeep);
    const echo = await startServerProcess(ECHO_MAIN, ['127.0.0.1:0'], 'echo serving');
    servers.push(echo);

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
  } finally {
    for (const server of servers) await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
