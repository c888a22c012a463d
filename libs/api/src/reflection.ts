import { toBinary, type DescFile, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';

/**
 * The serialized FileDescriptorProtos of `files` and of every file they import, transitively,
 * each once and after its imports. They are the descriptors the compiler produced (embedded in
 * the generated code), so strict runtimes such as grpcurl's accept them; descriptors rebuilt by
 * @grpc/proto-loader are not always valid (map entries, for one).
 */
export function fileDescriptorProtos(files: readonly DescFile[]): Buffer[] {
  const ordered = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (ordered.has(file.proto.name)) return;
    file.dependencies.forEach(visit);
    ordered.set(file.proto.name, file);
  };
  files.forEach(visit);
  return [...ordered.values()].map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
}

/**
 * What @grpc/reflection's ReflectionService is given: it takes a @grpc/proto-loader package
 * definition, but reads nothing from it except each entry's `fileDescriptorProtos`, and then
 * lists every service those files declare. One entry per service, holding its file and that
 * file's imports; the reflection service deduplicates files by name.
 */
export function reflectionPackageDefinition(services: readonly DescService[]): Record<string, { fileDescriptorProtos: Buffer[] }> {
  return Object.fromEntries(services.map((service) => [service.typeName, { fileDescriptorProtos: fileDescriptorProtos([service.file]) }]));
}

/**
 * Serves gRPC server reflection (v1 and v1alpha) for `services`, with every file they import,
 * so that grpcurl can list, describe and call them with no .proto file at hand. Pass every
 * service the server offers, the health service included (`Health` from our generated code).
 */
export function addReflection(server: Pick<grpc.Server, 'addService'>, services: readonly DescService[]): void {
  // The one cast: proto-loader's type describes message constructors we have no use for.
  const packageDefinition = reflectionPackageDefinition(services) as unknown as ConstructorParameters<typeof ReflectionService>[0];
  new ReflectionService(packageDefinition).addToServer(server);
}
