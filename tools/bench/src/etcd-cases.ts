import type { EtcdClient } from './etcd-client.js';
import type { EtcdProcess } from './etcd-process.js';
import { benchJob } from './jobkeep-cases.js';
import { casesOf, type LoadCase } from './load-case.js';
import { lockCases } from './lock-cases.js';

const LEASE_TTL_SECONDS = 600;
const LOCK_DEADLINE_MS = 120_000;

/**
 * etcd's side of the comparison: a put of the same job as JSON, and lock+unlock through etcd's
 * own lock service (v3lockpb), which keeps waiters in etcd in the order of their keys'
 * revisions, as jobkeep's lock line does (etcd's Lock always waits). Every put, lock and unlock
 * is a Raft entry that etcd fsyncs before answering. Etcd's leases are left to expire: etcd
 * stops with the run.
 */
export function etcdCases(etcd: EtcdProcess, client: EtcdClient): LoadCase[] {
  return casesOf('etcd', etcd.child.pid!, [
    {
      operation: 'put',
      description: 'Put of the job as JSON under a new key, durable',
      prepare: async (c) => ({ operation: (i) => client.put(`/bench/put-${c}/${i}`, Buffer.from(JSON.stringify(benchJob(i)))) }),
    },
    ...lockCases({
      verbs: ['Lock', 'Unlock'],
      grantLeases: (count) => Promise.all(Array.from({ length: count }, () => client.grantLease(LEASE_TTL_SECONDS))),
      takeAndGive: async (name, leaseId) => client.unlock(await client.lock(name, leaseId, LOCK_DEADLINE_MS)),
    }),
  ]);
}
