import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { credentials } from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Health } from './gen/grpc/health/v1/health_pb.js';
import { JobStore } from './gen/jobkeep/v1/job_store_pb.js';
import { grpcServiceDefinition } from './grpc-service-definition.js';
import { addReflection, fileDescriptorProtos, reflectionPackageDefinition } from './reflection.js';
import { implementService } from './service-implementation.js';
import { startTestServer, type TestServer } from './test-support/test-server.js';

const require = createRequire(import.meta.url);

/** Runs the buf CLI, whose Go protobuf runtime is as strict as grpcurl's. */
async function buf(...args: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('@bufbuild/buf/bin/buf'), ...args]);
  return stdout.trim().split('\n');
}

function decoded(files: Buffer[]): FileDescriptorProto[] {
  return files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

function* messagesOf(messages: DescriptorProto[], scope: string): Generator<[string, DescriptorProto]> {
  for (const message of messages) {
    const name = `${scope}.${message.name}`;
    yield [name, message];
    yield* messagesOf(message.nestedType, name);
  }
}

describe('fileDescriptorProtos', () => {
  it('serves each file once, after the files it imports', () => {
    const files = decoded(fileDescriptorProtos([JobStore.file, Health.file, JobStore.file]));
    expect(files.map((file) => file.name)).toEqual([
      'google/protobuf/field_mask.proto',
      'google/protobuf/struct.proto',
      'google/protobuf/timestamp.proto',
      'jobkeep/v1/types.proto',
      'jobkeep/v1/job_store.proto',
      'grpc/health/v1/health.proto',
    ]);
    const served = new Set<string>();
    for (const file of files) {
      for (const dependency of file.dependency) expect(served).toContain(dependency);
      served.add(file.name);
    }
  });

  it('declares every map field as strict runtimes require', () => {
    const maps: string[] = [];
    for (const file of decoded(fileDescriptorProtos([JobStore.file, Health.file]))) {
      for (const [messageName, message] of messagesOf(file.messageType, `.${file.package}`)) {
        for (const field of message.field) {
          const entry = message.nestedType.find((nested) => `${messageName}.${nested.name}` === field.typeName);
          if (!entry?.options?.mapEntry) continue;
          maps.push(`${messageName.slice(1)}.${field.name}`);
          // protoc's rule, which Go's runtime enforces: `label_selector` → `LabelSelectorEntry`.
          expect(entry.name).toBe(`${field.name.replace(/(?:^|_)(.)/g, (_, c: string) => c.toUpperCase())}Entry`);
          expect(entry.field.map((f) => [f.name, f.number])).toEqual([['key', 1], ['value', 2]]);
        }
      }
    }
    expect(maps).toEqual(expect.arrayContaining(['grpc.health.v1.HealthListResponse.statuses', 'jobkeep.v1.Job.labels', 'google.protobuf.Struct.fields']));
  });

  it('is accepted by Go’s protobuf runtime', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'jobkeep-reflection-'));
    try {
      const file = decoded(fileDescriptorProtos([JobStore.file, Health.file]));
      const image = join(directory, 'image.binpb');
      await writeFile(image, toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file })));
      expect(await buf('curl', '--schema', image, '--list-methods')).toEqual(
        expect.arrayContaining(['jobkeep.v1.JobStore/CreateJob', 'grpc.health.v1.Health/Watch', 'grpc.health.v1.Health/List']),
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('reflectionPackageDefinition', () => {
  it('gives each service its file and imports, in the shape @grpc/reflection reads', () => {
    const definition = reflectionPackageDefinition([JobStore, Health]);
    expect(Object.keys(definition)).toEqual(['jobkeep.v1.JobStore', 'grpc.health.v1.Health']);
    expect(decoded(definition['grpc.health.v1.Health']!.fileDescriptorProtos).map((file) => file.name)).toEqual([
      'grpc/health/v1/health.proto',
    ]);
    expect(definition['jobkeep.v1.JobStore']!.fileDescriptorProtos).toHaveLength(5);
  });
});

describe('addReflection', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer((grpcServer) => {
      grpcServer.addService(grpcServiceDefinition(JobStore), implementService(JobStore, {}));
      grpcServer.addService(grpcServiceDefinition(Health), implementService(Health, {}));
      addReflection(grpcServer, [JobStore, Health]);
    });
  });

  afterAll(() => server?.stop());

  it.each(['v1', 'v1alpha'])('serves %s: services, and messages with their imports', async (version) => {
    const reflection = new GrpcReflection(server.address, credentials.createInsecure(), {}, version);
    expect(await reflection.listServices()).toEqual(expect.arrayContaining(['jobkeep.v1.JobStore', 'grpc.health.v1.Health']));
    const root = (await reflection.getDescriptorBySymbol('jobkeep.v1.CreateJobRequest')).getProtobufJsRoot();
    expect(root.lookupType('jobkeep.v1.CreateJobRequest').fields['job']?.type).toBe('.jobkeep.v1.Job');
    const job = root.lookupType('jobkeep.v1.Job');
    expect([job.fields['spec']?.type, job.fields['createTime']?.type]).toEqual(['.google.protobuf.Struct', '.google.protobuf.Timestamp']);
    // The imported files came along, so the types resolve.
    expect(root.lookupType('google.protobuf.Struct').fields['fields']).toBeDefined();
    expect(root.lookupType('google.protobuf.Timestamp').fields['seconds']).toBeDefined();
  });

  it.each(['grpc-v1', 'grpc-v1alpha'])('satisfies a client as strict as grpcurl over %s', async (protocol) => {
    const methods = await buf('curl', '--protocol', 'grpc', '--reflect-protocol', protocol, '--list-methods', `http://${server.address}`);
    expect(methods).toEqual(expect.arrayContaining(['jobkeep.v1.JobStore/GetJob', 'grpc.health.v1.Health/List', 'grpc.health.v1.Health/Watch']));
  });
});
