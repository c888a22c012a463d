import * as grpc from '@grpc/grpc-js';
import { Health, HealthCheckResponse_ServingStatus, createTypedClient } from '@jobkeep/api';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { describe, expect, it } from 'vitest';
import { useTestServers } from './test-support/test-server.js';

describe('discovery with no .proto file at hand', () => {
  const servers = useTestServers();

  it.each(['v1', 'v1alpha'])('lists the services and resolves every type through reflection %s', async (version) => {
    const { server } = await servers.start();
    const reflection = new GrpcReflection(server.address, grpc.credentials.createInsecure(), {}, version);
    const services = await reflection.listServices();
    expect(services).toEqual(
      expect.arrayContaining(['jobkeep.v1.JobStore', 'jobkeep.v1.ExecutionStore', 'jobkeep.v1.CheckpointStore', 'grpc.health.v1.Health']),
    );

    const methods = await reflection.listMethods('jobkeep.v1.JobStore');
    expect(methods.map((method) => method.name)).toEqual(
      expect.arrayContaining(['CreateJob', 'GetJob', 'ListJobs', 'UpdateJob', 'UpdateJobState', 'DeleteJob', 'GetJobHistory']),
    );
    const root = (await reflection.getDescriptorBySymbol('jobkeep.v1.JobStore')).getProtobufJsRoot();
    for (const type of ['jobkeep.v1.CreateJobRequest', 'jobkeep.v1.Job', 'google.protobuf.Struct', 'google.protobuf.Timestamp', 'google.protobuf.FieldMask']) {
      expect(root.lookupType(type).fullName).toBe(`.${type}`);
    }
    for (const [service, types] of [
      ['jobkeep.v1.ExecutionStore', ['jobkeep.v1.Execution', 'jobkeep.v1.RunResult', 'jobkeep.v1.GetCountersResponse', 'jobkeep.v1.ExecutionState']],
      ['jobkeep.v1.CheckpointStore', ['jobkeep.v1.Checkpoint', 'jobkeep.v1.PutCheckpointRequest', 'jobkeep.v1.NodeDatabaseKind']],
    ] as const) {
      const serviceRoot = (await reflection.getDescriptorBySymbol(service)).getProtobufJsRoot();
      for (const type of types) expect(serviceRoot.lookup(type)?.fullName).toBe(`.${type}`);
    }
    const health = (await reflection.getDescriptorBySymbol('grpc.health.v1.Health')).getProtobufJsRoot();
    expect(health.lookupType('grpc.health.v1.HealthListResponse').fields.statuses?.map).toBe(true);
  });

  it('serves CreateJob to a client that knows the service only from reflection', async () => {
    const { server, client } = await servers.start();
    const reflection = new GrpcReflection(server.address, grpc.credentials.createInsecure());
    const descriptor = await reflection.getDescriptorBySymbol('jobkeep.v1.JobStore');
    type Reply = { job: { id: string; state: string; spec: unknown } };
    type DynamicJobStore = grpc.Client & { CreateJob(request: object, done: (error: grpc.ServiceError | null, reply: Reply) => void): void };
    const pkg = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true }) as unknown as {
      jobkeep: { v1: { JobStore: new (address: string, credentials: grpc.ChannelCredentials) => DynamicJobStore } };
    };
    const dynamic = new pkg.jobkeep.v1.JobStore(server.address, grpc.credentials.createInsecure());
    // This client reads a map from reflected descriptors as its repeated entries, hence `fields` as a list.
    const response = await new Promise<Reply>((resolve, reject) =>
      dynamic.CreateJob(
        { node_id: 'grpcurl-like', job: { name: 'from-json', spec: { fields: [{ key: 'image', value: { string_value: 'alpine' } }] } } },
        (error, reply) => (error ? reject(error) : resolve(reply)),
      ),
    );
    dynamic.close();
    expect(response.job.state).toBe('JOB_STATE_PENDING');
    const stored = await client.getJob({ nodeId: 'grpcurl-like', key: { case: 'id', value: response.job.id } });
    expect(stored.job?.spec).toEqual({ image: 'alpine' });
  });

  it('reports SERVING through grpc.health.v1, overall and for each jobkeep.v1 service, and lists them', async () => {
    const { server } = await servers.start();
    const health = createTypedClient(Health, server.address);
    try {
      expect((await health.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect((await health.check({ service: 'jobkeep.v1.JobStore' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      await expect(health.check({ service: 'no.such.Service' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const { statuses } = await health.list({});
      expect((await health.check({ service: 'jobkeep.v1.ExecutionStore' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect(Object.keys(statuses).sort()).toEqual([
        '',
        'jobkeep.v1.AdminService',
        'jobkeep.v1.CheckpointStore',
        'jobkeep.v1.ExecutionStore',
        'jobkeep.v1.JobStore',
        'jobkeep.v1.LeaseService',
        'jobkeep.v1.LockService',
        'jobkeep.v1.NodeRegistry',
      ]);
    } finally {
      health.close();
    }
  });
});
