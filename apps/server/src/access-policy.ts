import type { DescMethod, DescService, Message } from '@bufbuild/protobuf';
import type { LeaseOwner } from '@jobkeep/store';

/** What a method does, which decides the roles that may call it. */
export type Access = 'read' | 'write' | 'admin';

export type Role = 'admin' | 'agent' | 'reader';

/** admin: everything; agent: read and write stores, leases, locks and the registry; reader: read only. */
const ROLE_GRANTS: Record<Role, readonly Access[]> = {
  admin: ['read', 'write', 'admin'],
  agent: ['read', 'write'],
  reader: ['read'],
};

/**
 * Every served method by service and name. A method missing here is refused to everyone (see
 * `accessOf`), and a test checks that none is missing, so a new RPC gets its line on purpose.
 */
const METHOD_ACCESS: Record<string, Record<string, Access>> = {
  'jobkeep.v1.JobStore': {
    CreateJob: 'write',
    GetJob: 'read',
    ListJobs: 'read',
    UpdateJob: 'write',
    UpdateJobState: 'write',
    DeleteJob: 'write',
    GetJobHistory: 'read',
    CreateExecution: 'write',
    UpdateExecution: 'write',
    ListExecutions: 'read',
    WatchJobs: 'read',
    ClaimJob: 'write',
    HoldJob: 'write',
    ReleaseJob: 'write',
    HoldQueue: 'write',
    ReleaseQueue: 'write',
    ListQueueHolds: 'read',
    CreateBatch: 'write',
    GetBatch: 'read',
    ListBatches: 'read',
    GetBatchReport: 'read',
  },
  'jobkeep.v1.ExecutionStore': {
    CreateExecution: 'write',
    GetExecution: 'read',
    ListExecutions: 'read',
    UpdateExecutionState: 'write',
    DeleteExecution: 'write',
    GetExecutionHistory: 'read',
    GetCounters: 'read',
    WatchExecutions: 'read',
  },
  'jobkeep.v1.CheckpointStore': {
    PutCheckpoint: 'write',
    GetCheckpoint: 'read',
    ListCheckpoints: 'read',
  },
  'jobkeep.v1.NodeRegistry': {
    Register: 'write',
    Unregister: 'write',
    Get: 'read',
    List: 'read',
  },
  'jobkeep.v1.LeaseService': {
    Grant: 'write',
    KeepAlive: 'write',
    Revoke: 'write',
    TimeToLive: 'read',
    List: 'read',
  },
  'jobkeep.v1.LockService': {
    Acquire: 'write',
    Release: 'write',
    Get: 'read',
    List: 'read',
    // Takes a lock from whoever holds it: an operator's act, not an agent's.
    ForceRelease: 'admin',
  },
  // Whole files, drains, retention and tokens: the operator's.
  'jobkeep.v1.AdminService': {
    ListDatabases: 'admin',
    CheckDatabase: 'admin',
    ListTables: 'admin',
    GetDatabaseStats: 'admin',
    ListKeys: 'admin',
    GetRows: 'admin',
    CompactDatabase: 'admin',
    BackupDatabase: 'admin',
    ExportDatabase: 'admin',
    ImportDatabase: 'admin',
    RunRetention: 'admin',
    DrainNode: 'admin',
    RetireNode: 'admin',
    CreateAccessToken: 'admin',
    ListAccessTokens: 'admin',
    RevokeAccessToken: 'admin',
  },
};

/** The method's access, or undefined when the table has no line for it. */
export function accessOf(method: DescMethod): Access | undefined {
  return METHOD_ACCESS[method.parent.typeName]?.[method.name];
}

export function roleMay(role: Role, access: Access): boolean {
  return ROLE_GRANTS[role].includes(access);
}

/** The methods of `services` that have no line in the table. */
export function methodsWithoutAccess(services: readonly DescService[]): string[] {
  return services.flatMap((service) => service.methods.filter((method) => accessOf(method) === undefined).map((method) => `${service.typeName}/${method.name}`));
}

/**
 * The node whose database (or registry entry) a write request changes: its `node_id`, or the id
 * of the `node` it registers. Undefined for writes that touch no node's data (leases, locks).
 * A node-scoped token may make only the writes this names, for its own nodes.
 */
export function writtenNode(method: DescMethod, request: Message): string | undefined {
  const fields = method.input.fields;
  if (fields.some((field) => field.localName === 'nodeId')) return (request as unknown as { nodeId: string }).nodeId;
  if (fields.some((field) => field.localName === 'node' && field.message?.fields.some((inner) => inner.localName === 'id'))) {
    return (request as unknown as { node?: { id: string } }).node?.id ?? '';
  }
  return undefined;
}

/**
 * The lease a write request uses: its `lease_id` (KeepAlive, Revoke, Acquire, Release, ClaimJob,
 * Register), or undefined when it names none. A node-scoped token may use only its own leases.
 */
export function usedLease(method: DescMethod, request: Message): bigint | undefined {
  if (!method.input.fields.some((field) => field.localName === 'leaseId')) return undefined;
  const leaseId = (request as unknown as { leaseId: bigint }).leaseId;
  return leaseId === 0n ? undefined : leaseId;
}

/**
 * Whether a token scoped to `nodeIds` may use a lease of `owner`: one granted without tokens is
 * anyone's; one granted with a token only if that token's nodes were all among these. So agents
 * may keep, end and hold locks with their own leases, and with those of an earlier token for the
 * same nodes (a rotated token), but not with another node's, or with an unscoped token's.
 */
export function mayUseLease(nodeIds: readonly string[], owner: LeaseOwner): boolean {
  if (owner.kind === 'anyone') return true;
  return owner.nodeIds.length > 0 && owner.nodeIds.every((node) => nodeIds.includes(node));
}

/** The owner a lease granted to `caller` gets: its token's nodes, or anyone's without tokens. */
export function grantedLeaseOwner(caller: { nodeIds: readonly string[] } | undefined): LeaseOwner {
  return caller === undefined ? { kind: 'anyone' } : { kind: 'token', nodeIds: caller.nodeIds };
}
