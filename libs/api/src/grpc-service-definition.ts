import { fromBinary, toBinary, type DescMessage, type DescService, type Message } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';

/**
 * The grpc-js service definition of a protobuf-es service descriptor: what `server.addService`
 * and `grpc.Client` need to route and (de)serialize calls. Keys are the methods' proto names
 * (`GetJob`); `originalName` carries protobuf-es' local name (`getJob`), as @grpc/proto-loader
 * does, so implementations may be keyed either way.
 */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  // grpc.ServiceDefinition is a read-only mapped type that cannot be built field by field.
  return definition as grpc.ServiceDefinition;
}

function serializer(schema: DescMessage): (message: Message) => Buffer {
  // grpc-js writes Buffers; wrapping the bytes shares their memory instead of copying them.
  return (message) => {
    const bytes = toBinary(schema, message);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => fromBinary(schema, bytes);
}
