import http2 from 'node:http2';
import { JobStore, LeaseService, createTypedClient } from '@jobkeep/api';
import { describe, expect, it } from 'vitest';
import { eventually } from './test-support/coordination-clients.js';
import { useTestServers } from './test-support/test-server.js';

const NODE = 'requester-1';

/** A KeepAlive stream that sends one renewal, then stays open until `end` is called. */
function openKeepAlive(leases: ReturnType<typeof createTypedClient<typeof LeaseService>>, leaseId: bigint) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  async function* renewals() {
    yield { leaseId };
    await ended;
  }
  const responses = leases.keepAlive(renewals())[Symbol.asyncIterator]();
  const first = responses.next();
  // Read to its end once the renewals stop: the server then closes the stream.
  const drained = first.then(async () => {
    while (!(await responses.next()).done);
  });
  return { first, end, drained };
}

describe('streams per connection', () => {
  const servers = useTestServers();

  it('tells clients its --max-streams-per-connection in its HTTP/2 settings', async () => {
    const { server } = await servers.start({ maxStreamsPerConnection: 300 });
    const session = http2.connect(`http://${server.address}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.maxConcurrentStreams).toBe(300);
    } finally {
      session.close();
    }
  });

  it('holds back a call past --max-streams-per-connection, lease keep-alives counted, until a stream of that connection ends', async () => {
    const { client, server } = await servers.start({ maxStreamsPerConnection: 3, maxWatchesPerConnection: 2 });
    const { job } = await client.createJob({ nodeId: NODE, job: {} });
    // Clients of one address share a connection unless one asks for a pool of its own.
    const leases = createTypedClient(LeaseService, server.address);
    // A short deadline for the call held back; the other connection's call gets the default one.
    const jobs = createTypedClient(JobStore, server.address, { defaultDeadlineMs: 500 });
    const elsewhere = createTypedClient(JobStore, server.address, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
    try {
      const { lease } = await leases.grant({ ttlSeconds: 60n });
      const streams = [openKeepAlive(leases, lease!.id), openKeepAlive(leases, lease!.id), openKeepAlive(leases, lease!.id)];
      for (const stream of streams) expect((await stream.first).value).toMatchObject({ leaseId: lease!.id });

      await expect(jobs.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).rejects.toEqual(
        expect.objectContaining({ code: 'DEADLINE_EXCEEDED' }),
      );
      expect((await elsewhere.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } })).job!.id).toBe(job!.id);

      streams[0]!.end();
      await streams[0]!.drained;
      // Once the server has seen the stream end, and its client the slot free.
      const answered = async () => (await jobs.getJob({ nodeId: NODE, key: { case: 'id', value: job!.id } }).catch(() => undefined))?.job?.id === job!.id;
      await eventually(answered);
      for (const stream of streams.slice(1)) stream.end();
      await Promise.all(streams.map((stream) => stream.drained));
    } finally {
      for (const closing of [leases, jobs, elsewhere]) closing.close();
    }
  });
});
