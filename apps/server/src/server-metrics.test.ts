import { JobState } from '@jobkeep/api';
import { createLeaseClient } from '@jobkeep/client';
import { describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';

/** The value of one sample of the exposition text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics', () => {
  const servers = useTestServers();

  it('counts RPCs by method and status with their latency, and group commits by size and duration, open databases and records by state', async () => {
    const { server, client } = await servers.start({ metricsListen: '127.0.0.1:0' });
    const { job } = await client.createJob({ nodeId: 'n1', job: { name: 'a' } });
    await client.createJob({ nodeId: 'n1', job: { name: 'b' } });
    await client.updateJobState({ nodeId: 'n1', jobId: job!.id, newState: JobState.QUEUED });
    await expect(client.getJob({ nodeId: 'n1', key: { case: 'name', value: 'missing' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const response = await fetch(`http://${server.metricsAddress}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'jobkeep_rpc_duration_seconds_count{method="jobkeep.v1.JobStore/CreateJob",code="OK"}')).toBe(2);
    expect(sample(text, 'jobkeep_rpc_duration_seconds_count{method="jobkeep.v1.JobStore/GetJob",code="NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'jobkeep_rpc_duration_seconds_bucket{le="10",method="jobkeep.v1.JobStore/CreateJob",code="OK"}')).toBe(2);
    expect(sample(text, 'jobkeep_open_databases')).toBe(1);
    expect(sample(text, 'jobkeep_records{kind="requester",node="n1",state="PENDING"}')).toBe(1);
    expect(sample(text, 'jobkeep_records{kind="requester",node="n1",state="QUEUED"}')).toBe(1);
    expect(sample(text, 'jobkeep_process_resident_memory_bytes')).toBeGreaterThan(0);
    // Three writes so far, each alone in its group commit; then 20 at once share fewer commits.
    expect(sample(text, 'jobkeep_commit_batch_writes_sum{kind="requester"}')).toBe(3);
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.createJob({ nodeId: 'n1', job: { name: `together-${i}` } })));
    const after = await (await fetch(`http://${server.metricsAddress}/metrics`)).text();
    expect(sample(after, 'jobkeep_commit_batch_writes_sum{kind="requester"}')).toBe(23);
    expect(sample(after, 'jobkeep_commit_batch_writes_count{kind="requester"}')).toBeLessThan(23);
    expect(sample(after, 'jobkeep_commit_duration_seconds_count{kind="requester"}')).toBe(sample(after, 'jobkeep_commit_batch_writes_count{kind="requester"}'));

    // coordination.db's group commits: 16 lease grants at once share fewer commits than 16.
    const leases = createLeaseClient(server.address);
    await Promise.all(Array.from({ length: 16 }, () => leases.grant({ ttlSeconds: 60n })));
    leases.close();
    const coordination = await (await fetch(`http://${server.metricsAddress}/metrics`)).text();
    expect(sample(coordination, 'jobkeep_commit_batch_writes_sum{kind="coordination"}')).toBe(16);
    expect(sample(coordination, 'jobkeep_commit_batch_writes_count{kind="coordination"}')).toBeLessThan(16);

    expect((await fetch(`http://${server.metricsAddress}/`)).status).toBe(404);
  });

  it('serves no metrics unless asked to', async () => {
    const { server } = await servers.start();
    expect(server.metricsAddress).toBeUndefined();
  });
});
