import { setMaxListeners } from 'node:events';
import type { DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { AdminService, CheckpointStore, ExecutionStore, Health, JobStore, LeaseService, LockService, NodeRegistry, addReflection, grpcServiceDefinition, implementService, type CallAdmission } from '@jobkeep/api';
import { holdDataDir, openStorage, type HeldDataDir, type Storage } from '@jobkeep/store';
import { removeAdminLeftovers } from './admin-copy-stream.js';
import { adminServiceHandlers } from './admin-service.js';
import type { WatchSettings } from './history-watch.js';
import { jobStoreHandlers } from './job-store-service.js';
import { workQueueHandlers } from './work-queue-handlers.js';
import { batchHandlers } from './batch-handlers.js';
import { executionStoreHandlers } from './execution-store-service.js';
import { checkpointStoreHandlers } from './checkpoint-store-service.js';
import { leaseServiceHandlers } from './lease-service.js';
import { LeaseSweeper } from './lease-sweeper.js';
import { lockServiceHandlers } from './lock-service.js';
import { nodeRegistryHandlers } from './node-registry-service.js';
import type { Logger } from './logger.js';
import { RetentionScheduler } from './retention-scheduler.js';
import type { ServerConfig } from './server-config.js';
import { checkSecuritySettings, serverCredentials } from './server-security.js';
import { authenticateCalls } from './call-authentication.js';
import { ServerMetrics } from './server-metrics.js';
import { checkRequest } from './request-validation.js';
import { WatchSlots } from './watch-slots.js';

export interface RunningServer {
  /** The address actually bound (the port is resolved when 0 was asked for). */
  readonly address: string;
  /** Where GET /metrics is served, when --metrics-listen asked for it. */
  readonly metricsAddress: string | undefined;
  readonly storage: Storage;
  /**
   * Stops accepting calls, lets in-flight calls finish (cancelling them after the grace
   * period), then closes every database. Safe to call more than once.
   */
  shutdown(): Promise<void>;
}

/** The jobkeep.v1 services this server serves (health and reflection come besides). */
export const SERVED_SERVICES: readonly DescService[] = [JobStore, ExecutionStore, CheckpointStore, NodeRegistry, LeaseService, LockService, AdminService];

/** Opens the data directory and serves jobkeep.v1, health and reflection on `config.listen`. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  checkSecuritySettings(config);
  // Read before the data directory is held: a missing certificate fails the start at once.
  const credentials = serverCredentials(config);
  // Before anything opens a file: a second server (or an offline admin tool) on the same data
  // directory fails here, naming the process that holds it, instead of sharing its files.
  const hold = holdDataDir(config.dataDir, { role: 'server' });
  try {
    // Holding the directory, nothing else can be using copies a crashed server left behind.
    removeAdminLeftovers(config.dataDir);
    return await serve(config, credentials, logger, hold);
  } catch (error) {
    hold.release();
    throw error;
  }
}

async function serve(config: ServerConfig, credentials: grpc.ServerCredentials, logger: Logger, hold: HeldDataDir): Promise<RunningServer> {
  const metrics = new ServerMetrics();
  const storage = openStorage({
    dataDir: config.dataDir,
    jobStorePath: config.jobStorePath,
    computeStorePath: config.computeStorePath,
    maxOpenDatabases: config.maxOpenDatabases,
    limits: { maxSpecBytes: config.maxSpecBytes, maxBlobBytes: config.maxBlobBytes, maxLockWaiters: config.maxLockWaiters },
    durability: config.durability,
    groupCommit: { maxWrites: config.groupCommitMaxWrites, maxWaitMs: config.groupCommitMaxWaitMs },
    onBatchCommitted: metrics.observeBatch,
    retention: { requester: config.jobRetention, compute: config.executionRetention },
    onClaimsReturned: (returned, failure) => {
      if (returned.length > 0) logger.info({ returned }, 'claims of ended leases returned to their queues');
      if (failure !== undefined) logger.error({ err: failure }, 'returning claims of ended leases failed; trying again at the next lease end or restart');
    },
    stallCredit: config.leaseStallToleranceMs === 0 ? undefined : {
      toleranceMs: config.leaseStallToleranceMs,
      onCredited: (stall, leases, failure) => {
        const stalled = { creditedMs: stall.lengthMs, leases };
        if (failure !== undefined) {
          logger.error({ ...stalled, err: failure }, 'the server ran nothing for longer than --lease-stall-tolerance-ms, and giving that time back to the leases failed');
          return;
        }
        metrics.observeStallCredit(stall);
        logger.warn(stalled, 'the server ran nothing for longer than --lease-stall-tolerance-ms; that time was given back to the leases alive then');
      },
    },
    onDatabaseOpened: (info) => {
      logger.info(info, 'database opened');
      // Databases open lazily, on requests, so the scheduler below exists by the time this runs.
      retention.databaseOpened(info.kind, info.nodeId);
    },
  });
  const retention = new RetentionScheduler(storage, config.retentionIntervalMs, logger);
  const sweeper = new LeaseSweeper(storage.leaseStore, config.leaseSweepIntervalMs, logger);
  // grpc-js takes 4 MiB by default; a CreateBatch of many jobs needs more (see --max-message-bytes).
  // Responses keep grpc-js's default: no limit of the server's own. Streams per connection have no
  // bound in grpc-js unless given one; KeepAlive streams, unlike watches, are not counted otherwise.
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_concurrent_streams': config.maxStreamsPerConnection,
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  // Aborted at shutdown, so that watches end at once instead of holding it for the grace period.
  const watches = new AbortController();
  // Every watch, KeepAlive and admin stream listens to it while it waits, and their number has no
  // bound across connections: without this, Node warns of a listener leak at the eleventh.
  setMaxListeners(0, watches.signal);
  let metricsEndpoint: { address: string; close: () => Promise<void> } | undefined;
  const watch: WatchSettings = {
    progressIntervalMs: config.watchProgressIntervalMs,
    stallTimeoutMs: config.watchStallTimeoutMs,
    stopping: watches.signal,
    onStalled: (nodeId, resumeFrom) => logger.warn({ nodeId, resumeFrom }, 'watch dropped: the watcher stopped reading'),
    slots: new WatchSlots(config.maxWatchesPerConnection),
  };
  try {
    const onUnexpectedError = (error: unknown, method: string) => logger.error({ err: error, method }, 'unexpected error');
    finishInterruptedDrains(storage, logger);
    const authenticate = config.auth === 'token' ? await tokenAdmission(storage) : undefined;
    // Who calls first, then what they send: a caller the server does not admit learns nothing
    // from the request rules. Every request message is checked before its handler sees it.
    const admit: CallAdmission = async (method, context) => {
      const scope = await authenticate?.(method, context);
      return async (request) => {
        await scope?.(request);
        checkRequest(method, request, storage.limits);
      };
    };
    metrics.watchStorage(storage);
    const options = { onUnexpectedError, admit, onCallEnded: metrics.observeCall };
    server.addService(grpcServiceDefinition(JobStore), implementService(JobStore, { ...jobStoreHandlers(storage.jobStore, { history: storage.jobHistory, settings: watch }), ...workQueueHandlers(storage.workQueues), ...batchHandlers(storage.batches) }, options));
    server.addService(grpcServiceDefinition(ExecutionStore), implementService(ExecutionStore, executionStoreHandlers(storage.executionStore, { history: storage.executionHistory, settings: watch }), options));
    server.addService(grpcServiceDefinition(CheckpointStore), implementService(CheckpointStore, checkpointStoreHandlers(storage.checkpointStore), options));
    server.addService(grpcServiceDefinition(LeaseService), implementService(LeaseService, leaseServiceHandlers(storage.leaseStore, watches.signal), options));
    server.addService(grpcServiceDefinition(LockService), implementService(LockService, lockServiceHandlers(storage.lockStore), options));
    server.addService(grpcServiceDefinition(NodeRegistry), implementService(NodeRegistry, nodeRegistryHandlers(storage.nodeRegistry), options));
    server.addService(
      grpcServiceDefinition(AdminService),
      implementService(AdminService, adminServiceHandlers(storage, { stallTimeoutMs: config.watchStallTimeoutMs, stopping: watches.signal }), options),
    );
    for (const service of SERVED_SERVICES) health.setStatus(service.typeName, 'SERVING');
    health.addToServer(server);
    addReflection(server, [...SERVED_SERVICES, Health]);
    const port = await bind(server, config.listen, credentials);
    const address = config.listen.replace(/:\d+$/, `:${port}`);
    hold.setAddress(address);
    metricsEndpoint = config.metricsListen === undefined ? undefined : await metrics.serve(config.metricsListen);
    const metricsAddress = metricsEndpoint?.address;
    logger.info({ address, dataDir: storage.locations.dataDir, auth: config.auth, tls: tlsMode(config), metricsAddress, durability: config.durability }, 'jobkeep serving');
    retention.start();
    // Claims of leases that ended just before a crash go back to their queues now.
    void storage.claims.returnOrphanedClaims();
    sweeper.start();
    const stopMetrics = metricsEndpoint?.close ?? (async () => {});
    return { address, metricsAddress, storage, shutdown: once(() => shutdown(server, health, storage, retention, sweeper, watches, stopMetrics, hold, config, logger)) };
  } catch (error) {
    await metricsEndpoint?.close();
    server.forceShutdown();
    storage.close();
    throw error;
  }
}

/**
 * The jobs a drain killed mid-way left frozen refuse every change until their move is finished:
 * that is done before the first call can meet them, rather than whenever an operator runs the
 * drain again. The drain's remaining jobs wait for that run.
 */
function finishInterruptedDrains(storage: Storage, logger: Logger): void {
  const finished = storage.admin.finishInterruptedDrains((sourceNodeId, error) =>
    logger.error({ err: error, sourceNodeId }, 'could not finish the moves of an interrupted drain; its jobs stay frozen until the drain runs again'),
  );
  for (const { sourceNodeId, jobs } of finished) {
    logger.warn({ sourceNodeId, jobs }, 'finished the moves of an interrupted drain; run the drain again to move the jobs it had not reached');
  }
}

/**
 * Authentication of every call (health and reflection are served apart, so they stay open). A
 * server that takes only tokens and has no admin token could never be managed over the wire:
 * it refuses to start and says how to make the first one.
 */
async function tokenAdmission(storage: Storage) {
  const active = await storage.accessTokens.list();
  if (!active.some((token) => token.role === 'admin')) {
    throw new Error(
      `--auth token needs an admin token, and ${storage.locations.dataDir} has none: with the server stopped, create one with ` +
        `jobkeep-admin tokens create --role admin --name root --data-dir ${storage.locations.dataDir}`,
    );
  }
  return authenticateCalls(storage.accessTokens, storage.leaseStore);
}

function tlsMode(config: ServerConfig): 'off' | 'on' | 'mutual' {
  if (config.tlsCert === undefined) return 'off';
  return config.tlsClientCa === undefined ? 'on' : 'mutual';
}

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) =>
      error ? reject(new Error(`cannot listen on ${address}: ${error.message}`)) : resolve(port),
    );
  });
}

async function shutdown(
  server: grpc.Server,
  health: HealthImplementation,
  storage: Storage,
  retention: RetentionScheduler,
  sweeper: LeaseSweeper,
  watches: AbortController,
  stopMetrics: () => Promise<void>,
  hold: HeldDataDir,
  config: ServerConfig,
  logger: Logger,
): Promise<void> {
  logger.info({ graceMs: config.shutdownGraceMs }, 'shutting down: no new calls, finishing in-flight ones');
  // First, so that no lease expires while calls drain: keep-alives end with the server, and the
  // restart gives every lease a fresh TTL. Retention stops too (it waits for a pass in progress).
  await sweeper.stop();
  await retention.stop();
  health.setStatus('', 'NOT_SERVING');
  for (const service of SERVED_SERVICES) health.setStatus(service.typeName, 'NOT_SERVING');
  const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  // Watches never finish by themselves: they end now with UNAVAILABLE, naming where to resume.
  watches.abort();
  // Waiting Acquires would hold the shutdown too; they end with UNAVAILABLE and retry elsewhere.
  storage.stopLockWaits();
  const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.shutdownGraceMs, 'timeout').unref());
  if ((await Promise.race([drained, grace])) === 'timeout') {
    logger.warn('in-flight calls outlived the grace period; cancelling them');
    server.forceShutdown();
  }
  await stopMetrics();
  // A revoke during the drain may have started handing claimed jobs back; let it finish.
  await storage.claims.settled();
  // Once no call is in flight (and the sweeper and retention are stopped) no write is waiting
  // for its group commit, and closing a database commits any that still were: the files can close.
  storage.close();
  // Last: until every file is closed, no other process may open them.
  hold.release();
  logger.info('jobkeep stopped');
}

function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}
