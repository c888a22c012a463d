import type { DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { grpcServiceDefinition, implementService, type ServiceHandlers } from '@jobkeep/api';
import { afterEach } from 'vitest';

/**
 * Real gRPC servers on loopback ports whose handlers play a test's script, for the client's own
 * behaviour (retries, waits, resumes); each test's servers and clients are closed after it.
 * Returns `serve(service, handlers, connect)`: the client `connect` makes for the new server.
 */
export function useScriptedServers() {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  return async function serve<S extends DescService, C extends { close(): void }>(
    service: S,
    handlers: ServiceHandlers<S>,
    connect: (target: string) => C,
  ): Promise<C> {
    const server = new grpc.Server();
    server.addService(grpcServiceDefinition(service), implementService(service, handlers));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const client = connect(`127.0.0.1:${port}`);
    cleanups.push(() => client.close(), () => server.forceShutdown());
    return client;
  };
}
