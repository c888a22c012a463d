import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { Health } from './gen/grpc/health/v1/health_pb.js';
import { CreateJobRequestSchema, JobSchema, JobState, JobStore } from './gen/jobkeep/v1/job_store_pb.js';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { Echo } from './test-support/echo-service.js';

describe('grpcServiceDefinition', () => {
  it('routes every method by its full gRPC path', () => {
    const definition = grpcServiceDefinition(JobStore);
    expect(Object.keys(definition)).toEqual(JobStore.methods.map((method) => method.name));
    expect(definition['GetJob']).toMatchObject({
      path: '/jobkeep.v1.JobStore/GetJob',
      originalName: 'getJob',
      requestStream: false,
      responseStream: false,
    });
  });

  it('takes the streaming flags from the method kind', () => {
    const flags = (definition: ReturnType<typeof grpcServiceDefinition>, name: string) => [
      definition[name]!.requestStream,
      definition[name]!.responseStream,
    ];
    expect(flags(grpcServiceDefinition(Health), 'Watch')).toEqual([false, true]);
    const echo = grpcServiceDefinition(Echo);
    expect(flags(echo, 'Repeat')).toEqual([false, true]);
    expect(flags(echo, 'Concat')).toEqual([true, false]);
    expect(flags(echo, 'Chat')).toEqual([true, true]);
  });

  it('serializes messages to protobuf binary and back', () => {
    const method = grpcServiceDefinition(JobStore)['CreateJob']!;
    const job = create(JobSchema, {
      id: 'j-1',
      labels: { team: 'ingest' },
      spec: { image: 'alpine', args: ['echo', 1] },
      state: JobState.QUEUED,
      createTime: timestampFromDate(new Date('2025-01-02T03:04:05.678Z')),
    });
    const request = create(CreateJobRequestSchema, { nodeId: 'node-1', job });
    const bytes = method.requestSerialize(request);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(method.requestDeserialize(bytes)).toEqual(request);
  });
});
