import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { Health, JobStore, addReflection, grpcServiceDefinition, implementService } from '@jobkeep/api';
import { openStorage, type Storage } from '@jobkeep/store';
import { jobStoreHandlers } from './job-store-service.js';
import type { Logger } from './logger.js';
import type { ServerConfig } from './server-config.js';

export interface RunningServer {
  /** The address actually bound (the port is resolved when 0 was asked for). */
  readonly address: string;
  readonly storage: Storage;
  /**
   * Stops accepting calls, lets in-flight calls finish (cancelling them after the grace
   * period), then closes every database. Safe to call more than once.
   */
  shutdown(): Promise<void>;
}

const SERVED_SERVICES = [JobStore];

/** Opens the data directory and serves jobkeep.v1, health and reflection on `config.listen`. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const storage = openStorage({
    dataDir: config.dataDir,
    jobStorePath: config.jobStorePath,
    computeStorePath: config.computeStorePath,
    maxOpenDatabases: config.maxOpenDatabases,
  });
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING' });
  try {
    const onUnexpectedError = (error: unknown, method: string) => logger.error({ err: error, method }, 'unexpected error');
    server.addService(grpcServiceDefinition(JobStore), implementService(JobStore, jobStoreHandlers(storage.jobStore), { onUnexpectedError }));
    for (const service of SERVED_SERVICES) health.setStatus(service.typeName, 'SERVING');
    health.addToServer(server);
    addReflection(server, [...SERVED_SERVICES, Health]);
    const port = await bind(server, config.listen);
    const address = config.listen.replace(/:\d+$/, `:${port}`);
    logger.info({ address, dataDir: storage.locations.dataDir }, 'jobkeep serving');
    return { address, storage, shutdown: once(() => shutdown(server, health, storage, config, logger)) };
  } catch (error) {
    server.forceShutdown();
    storage.close();
    throw error;
  }
}

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(new Error(`cannot listen on ${address}: ${error.message}`)) : resolve(port),
    );
  });
}

async function shutdown(
  server: grpc.Server,
  health: HealthImplementation,
  storage: Storage,
  config: ServerConfig,
  logger: Logger,
): Promise<void> {
  logger.info({ graceMs: config.shutdownGraceMs }, 'shutting down: no new calls, finishing in-flight ones');
  health.setStatus('', 'NOT_SERVING');
  for (const service of SERVED_SERVICES) health.setStatus(service.typeName, 'NOT_SERVING');
  const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.shutdownGraceMs, 'timeout').unref());
  if ((await Promise.race([drained, grace])) === 'timeout') {
    logger.warn('in-flight calls outlived the grace period; cancelling them');
    server.forceShutdown();
  }
  // Every store call is one synchronous transaction, so once no call is in flight no
  // transaction is either, and the files can be closed.
  storage.close();
  logger.info('jobkeep stopped');
}

function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}
