import * as grpc from '@grpc/grpc-js';

export interface TestServer {
  /** `127.0.0.1:port`, for clients. */
  readonly address: string;
  readonly server: grpc.Server;
  stop(): void;
}

/** A real grpc-js server on a loopback port chosen by the system. */
export async function startTestServer(register: (server: grpc.Server) => void): Promise<TestServer> {
  const server = new grpc.Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    ),
  );
  // Streams left open by a test would make a graceful shutdown wait for ever.
  return { address: `127.0.0.1:${port}`, server, stop: () => server.forceShutdown() };
}
