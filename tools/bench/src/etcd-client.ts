import * as grpc from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, type WireField } from './protobuf-wire.js';

/** The four etcd v3 calls the comparison makes, over one grpc-js channel like jobkeep's client. */
export interface EtcdClient {
  /** KV.Put: one durable write (etcd fsyncs its WAL before it answers). */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Lease.LeaseGrant: a lease of `ttlSeconds`; returns its id. */
  grantLease(ttlSeconds: number): Promise<bigint>;
  /**
   * v3lockpb.Lock/Lock: waits in etcd until the lock `name` is held with `leaseId`; returns the
   * key that stands for the hold. Waiters are served in the order of their keys' revisions.
   */
  lock(name: string, leaseId: bigint, deadlineMs: number): Promise<Uint8Array>;
  /** v3lockpb.Lock/Unlock: deletes the hold's key, which hands the lock to the next waiter. */
  unlock(key: Uint8Array): Promise<void>;
  close(): void;
}

const DEADLINE_MS = 10_000;

/**
 * A client of etcd at `address` (host:port, plaintext). Field numbers are those of etcd 3.4's
 * rpc.proto (PutRequest, LeaseGrantRequest/Response) and v3lock.proto (LockRequest/Response,
 * UnlockRequest).
 */
export function createEtcdClient(address: string): EtcdClient {
  const channel = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = (method: string, fields: WireField[], deadlineMs = DEADLINE_MS) =>
    new Promise<Map<number, bigint | Uint8Array>>((resolve, reject) => {
      channel.makeUnaryRequest(
        method,
        (request: Buffer) => request,
        (reply: Buffer) => reply,
        encodeMessage(fields),
        { deadline: Date.now() + deadlineMs },
        (error, reply) => (error ? reject(error) : resolve(decodeMessage(reply!))),
      );
    });
  const text = (value: string) => Buffer.from(value);
  return {
    async put(key, value) {
      await call('/etcdserverpb.KV/Put', [
        [1, text(key)],
        [2, value],
      ]);
    },
    async grantLease(ttlSeconds) {
      const reply = await call('/etcdserverpb.Lease/LeaseGrant', [[1, BigInt(ttlSeconds)]]);
      const error = reply.get(4);
      if (error instanceof Uint8Array && error.length > 0) throw new Error(`etcd LeaseGrant: ${Buffer.from(error).toString()}`);
      const id = reply.get(2);
      if (typeof id !== 'bigint') throw new Error('etcd LeaseGrant answered without a lease id');
      return id;
    },
    async lock(name, leaseId, deadlineMs) {
      const reply = await call(
        '/v3lockpb.Lock/Lock',
        [
          [1, text(name)],
          [2, leaseId],
        ],
        deadlineMs,
      );
      const key = reply.get(2);
      if (!(key instanceof Uint8Array)) throw new Error(`etcd Lock of ${name} answered without a key`);
      return key;
    },
    async unlock(key) {
      await call('/v3lockpb.Lock/Unlock', [[1, key]]);
    },
    close: () => channel.close(),
  };
}
