// The public surface of @jobkeep/api: the generated jobkeep.v1 services and messages, the
// grpc.health.v1 descriptor, and the bridge between protobuf-es descriptors and grpc-js.
// Only what is listed here is public; src/gen is reached through this file, never directly.

// jobkeep/v1/job_store.proto
export {
  JobStore,
  file_jobkeep_v1_job_store,
  CreateJobRequestSchema,
  CreateJobResponseSchema,
  DeleteJobRequestSchema,
  DeleteJobResponseSchema,
  GetJobHistoryRequestSchema,
  GetJobHistoryResponseSchema,
  GetJobRequestSchema,
  GetJobResponseSchema,
  JobEventSchema,
  JobEventType,
  JobEventTypeSchema,
  JobExecutionSchema,
  JobOrder,
  JobOrderSchema,
  JobSchema,
  JobState,
  JobStateSchema,
  JobStoreCreateExecutionRequestSchema,
  JobStoreCreateExecutionResponseSchema,
  JobStoreListExecutionsRequestSchema,
  JobStoreListExecutionsResponseSchema,
  JobStoreUpdateExecutionRequestSchema,
  JobStoreUpdateExecutionResponseSchema,
  JobType,
  JobTypeSchema,
  ListJobsRequestSchema,
  ListJobsResponseSchema,
  UpdateJobRequestSchema,
  UpdateJobResponseSchema,
  UpdateJobStateRequestSchema,
  UpdateJobStateResponseSchema,
  WatchJobsRequestSchema,
  WatchJobsResponseSchema,
} from './gen/jobkeep/v1/job_store_pb.js';
export type {
  CreateJobRequest,
  CreateJobResponse,
  DeleteJobRequest,
  DeleteJobResponse,
  GetJobHistoryRequest,
  GetJobHistoryResponse,
  GetJobRequest,
  GetJobResponse,
  Job,
  JobEvent,
  JobExecution,
  JobStoreCreateExecutionRequest,
  JobStoreCreateExecutionResponse,
  JobStoreListExecutionsRequest,
  JobStoreListExecutionsResponse,
  JobStoreUpdateExecutionRequest,
  JobStoreUpdateExecutionResponse,
  ListJobsRequest,
  ListJobsResponse,
  UpdateJobRequest,
  UpdateJobResponse,
  UpdateJobStateRequest,
  UpdateJobStateResponse,
  WatchJobsRequest,
  WatchJobsResponse,
} from './gen/jobkeep/v1/job_store_pb.js';

// jobkeep/v1/types.proto
export {
  file_jobkeep_v1_types,
  DesiredExecutionState,
  DesiredExecutionStateSchema,
  ExecutionState,
  ExecutionStateSchema,
  NodeDatabaseKind,
  NodeDatabaseKindSchema,
  SortDirection,
  SortDirectionSchema,
  LockGuardSchema,
  WatchProgressSchema,
} from './gen/jobkeep/v1/types_pb.js';
export type { LockGuard, WatchProgress } from './gen/jobkeep/v1/types_pb.js';

// jobkeep/v1/execution_store.proto
export {
  CreateExecutionRequestSchema,
  CreateExecutionResponseSchema,
  DeleteExecutionRequestSchema,
  DeleteExecutionResponseSchema,
  ExecutionEventSchema,
  ExecutionEventType,
  ExecutionEventTypeSchema,
  ExecutionSchema,
  ExecutionStore,
  GetCountersRequestSchema,
  GetCountersResponseSchema,
  GetExecutionHistoryRequestSchema,
  GetExecutionHistoryResponseSchema,
  GetExecutionRequestSchema,
  GetExecutionResponseSchema,
  ListExecutionsRequestSchema,
  ListExecutionsResponseSchema,
  RunResultSchema,
  StateCountSchema,
  UpdateExecutionStateRequestSchema,
  UpdateExecutionStateResponseSchema,
  WatchExecutionsRequestSchema,
  WatchExecutionsResponseSchema,
  file_jobkeep_v1_execution_store,
} from './gen/jobkeep/v1/execution_store_pb.js';
export type {
  CreateExecutionRequest,
  CreateExecutionResponse,
  DeleteExecutionRequest,
  DeleteExecutionResponse,
  Execution,
  ExecutionEvent,
  GetCountersRequest,
  GetCountersResponse,
  GetExecutionHistoryRequest,
  GetExecutionHistoryResponse,
  GetExecutionRequest,
  GetExecutionResponse,
  ListExecutionsRequest,
  ListExecutionsResponse,
  RunResult,
  StateCount,
  UpdateExecutionStateRequest,
  UpdateExecutionStateResponse,
  WatchExecutionsRequest,
  WatchExecutionsResponse,
} from './gen/jobkeep/v1/execution_store_pb.js';

// jobkeep/v1/checkpoint_store.proto
export {
  CheckpointSchema,
  CheckpointStore,
  GetCheckpointRequestSchema,
  GetCheckpointResponseSchema,
  ListCheckpointsRequestSchema,
  ListCheckpointsResponseSchema,
  PutCheckpointRequestSchema,
  PutCheckpointResponseSchema,
  file_jobkeep_v1_checkpoint_store,
} from './gen/jobkeep/v1/checkpoint_store_pb.js';
export type {
  Checkpoint,
  GetCheckpointRequest,
  GetCheckpointResponse,
  ListCheckpointsRequest,
  ListCheckpointsResponse,
  PutCheckpointRequest,
  PutCheckpointResponse,
} from './gen/jobkeep/v1/checkpoint_store_pb.js';

// jobkeep/v1/lease_service.proto
export {
  GrantRequestSchema,
  GrantResponseSchema,
  KeepAliveRequestSchema,
  KeepAliveResponseSchema,
  LeaseSchema,
  LeaseService,
  LeaseServiceListRequestSchema,
  LeaseServiceListResponseSchema,
  RevokeRequestSchema,
  RevokeResponseSchema,
  TimeToLiveRequestSchema,
  TimeToLiveResponseSchema,
  file_jobkeep_v1_lease_service,
} from './gen/jobkeep/v1/lease_service_pb.js';
export type {
  GrantRequest,
  GrantResponse,
  KeepAliveRequest,
  KeepAliveResponse,
  Lease,
  LeaseServiceListRequest,
  LeaseServiceListResponse,
  RevokeRequest,
  RevokeResponse,
  TimeToLiveRequest,
  TimeToLiveResponse,
} from './gen/jobkeep/v1/lease_service_pb.js';

// jobkeep/v1/lock_service.proto
export {
  AcquireRequestSchema,
  AcquireResponseSchema,
  ForceReleaseRequestSchema,
  ForceReleaseResponseSchema,
  LockSchema,
  LockService,
  LockServiceGetRequestSchema,
  LockServiceGetResponseSchema,
  LockServiceListRequestSchema,
  LockServiceListResponseSchema,
  ReleaseRequestSchema,
  ReleaseResponseSchema,
  file_jobkeep_v1_lock_service,
} from './gen/jobkeep/v1/lock_service_pb.js';
export type {
  AcquireRequest,
  AcquireResponse,
  ForceReleaseRequest,
  ForceReleaseResponse,
  Lock,
  LockServiceGetRequest,
  LockServiceGetResponse,
  LockServiceListRequest,
  LockServiceListResponse,
  ReleaseRequest,
  ReleaseResponse,
} from './gen/jobkeep/v1/lock_service_pb.js';

// jobkeep/v1/node_registry.proto
export {
  NodeCapacitySchema,
  NodeRegistry,
  NodeRegistryGetRequestSchema,
  NodeRegistryGetResponseSchema,
  NodeRegistryListRequestSchema,
  NodeRegistryListResponseSchema,
  NodeSchema,
  OnlineFilter,
  OnlineFilterSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
  UnregisterRequestSchema,
  UnregisterResponseSchema,
  file_jobkeep_v1_node_registry,
} from './gen/jobkeep/v1/node_registry_pb.js';
export type {
  Node,
  NodeCapacity,
  NodeRegistryGetRequest,
  NodeRegistryGetResponse,
  NodeRegistryListRequest,
  NodeRegistryListResponse,
  RegisterRequest,
  RegisterResponse,
  UnregisterRequest,
  UnregisterResponse,
} from './gen/jobkeep/v1/node_registry_pb.js';

// grpc/health/v1/health.proto: our compiled declaration of the standard health service, for
// reflection and for health clients.
export {
  Health,
  file_grpc_health_v1_health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatusSchema,
  HealthListRequestSchema,
  HealthListResponseSchema,
} from './gen/grpc/health/v1/health_pb.js';
export type {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthListRequest,
  HealthListResponse,
} from './gen/grpc/health/v1/health_pb.js';

// The bridge.
export { grpcServiceDefinition } from './grpc-service-definition.js';
export { implementService } from './service-implementation.js';
export type {
  BidiStreamingHandler,
  ClientStreamingHandler,
  MethodHandler,
  ServerStreamingHandler,
  ServiceHandlers,
  ServiceImplementationOptions,
  UnaryHandler,
} from './service-implementation.js';
export type { CallContext, StallLimit } from './call-context.js';
export { createTypedClient } from './typed-client.js';
export type {
  BidiStreamingMethod,
  CallOptions,
  ClientChannel,
  ClientMethod,
  ClientStreamingMethod,
  ServerStreamingMethod,
  TypedClient,
  TypedClientOptions,
  UnaryMethod,
} from './typed-client.js';
export { fromWireError, toWireStatus } from './wire-status.js';
export type { UnexpectedErrorReporter } from './wire-status.js';
export { addReflection, fileDescriptorProtos, reflectionPackageDefinition } from './reflection.js';
