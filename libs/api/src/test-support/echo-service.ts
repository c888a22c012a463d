import { create, createFileRegistry } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers, type StringValueSchema } from '@bufbuild/protobuf/wkt';

// jobkeep's protos have no client-streaming or bidi method yet, so the bridge's streaming paths
// are tested on this small service, compiled at runtime from a descriptor.
const file = create(FileDescriptorProtoSchema, {
  name: 'jobkeep/test/echo.proto',
  package: 'jobkeep.test',
  dependency: ['google/protobuf/wrappers.proto'],
  syntax: 'proto3',
  service: [
    {
      name: 'Echo',
      method: [
        { name: 'Repeat', inputType: '.google.protobuf.StringValue', outputType: '.google.protobuf.StringValue', serverStreaming: true },
        { name: 'Concat', inputType: '.google.protobuf.StringValue', outputType: '.google.protobuf.StringValue', clientStreaming: true },
        { name: 'Chat', inputType: '.google.protobuf.StringValue', outputType: '.google.protobuf.StringValue', clientStreaming: true, serverStreaming: true },
      ],
    },
  ],
});

type Method<Kind extends string> = { methodKind: Kind; input: typeof StringValueSchema; output: typeof StringValueSchema };

/** `Repeat` streams its request back until cancelled, `Concat` joins a stream, `Chat` echoes one. */
export const Echo = createFileRegistry(file, (name) =>
  name === file_google_protobuf_wrappers.proto.name ? file_google_protobuf_wrappers : undefined,
).getService('jobkeep.test.Echo') as unknown as GenService<{
  repeat: Method<'server_streaming'>;
  concat: Method<'client_streaming'>;
  chat: Method<'bidi_streaming'>;
}>;
