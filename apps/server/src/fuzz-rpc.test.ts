import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import {
  CheckpointStore,
  ExecutionStore,
  Health,
  HealthCheckResponse_ServingStatus,
  JobStore,
  LeaseService,
  LockService,
  NodeDatabaseKind,
  NodeRegistry,
  createTypedClient,
} from '@jobkeep/api';
import { launchServer, useNodeProcesses } from '@jobkeep/testing';
import { describe, expect, it } from 'vitest';
import { SERVED_SERVICES } from './jobkeep-server.js';
import { RawCaller, type RawOutcome } from './test-support/fuzz-calls.js';
import { DataDirFingerprint } from './test-support/data-dir-fingerprint.js';
import { MessageFuzzer, Prng, type KnownValues } from './test-support/fuzz-values.js';

// Admin last: a fuzzed DrainNode or RetireNode that happens to be valid may move the seeded data away.
const SERVICES = SERVED_SERVICES;
const SEED = Number(process.env.JOBKEEP_FUZZ_SEED ?? 20_240_806);
const RANDOM_LENGTHS = [0, 1, 7, 64, 1024, 64 * 1024];
const VALID_CASES = 24;
const MUTATED_CASES = 24;
const CASES_PER_METHOD = RANDOM_LENGTHS.length * 2 + VALID_CASES + MUTATED_CASES;
const METHODS = SERVICES.reduce((sum, service) => sum + service.methods.length, 0);
const CASES = METHODS * CASES_PER_METHOD;
const NODE = 'fuzz-node';
/** Methods that may legitimately wait past the deadline: a valid Acquire waits for its lock. */
const MAY_WAIT = new Set(['jobkeep.v1.LockService/Acquire']);

type Kind = 'random bytes' | 'valid' | 'mutated';
interface Finding {
  method: string;
  kind: Kind;
  case: number;
  problem: string;
}

/** Grpc-js's own answer to bytes that do not parse as the request (DESIGN.md §2). */
const isDeserializationFailure = (outcome: RawOutcome) => outcome.code === status.INTERNAL && outcome.details.startsWith('Error deserializing request');

async function seed(address: string): Promise<KnownValues> {
  const options = { defaultDeadlineMs: 10_000 };
  const jobs = createTypedClient(JobStore, address, options);
  const executions = createTypedClient(ExecutionStore, address, options);
  const checkpoints = createTypedClient(CheckpointStore, address, options);
  const leases = createTypedClient(LeaseService, address, options);
  const locks = createTypedClient(LockService, address, options);
  const nodes = createTypedClient(NodeRegistry, address, options);
  try {
    const strings = [NODE, 'coordination', `${NODE}-requester`, `${NODE}-compute`, 'jobs', 'executions', '/locks/fuzz', 'fuzz-checkpoint', 'queue-a'];
    for (let i = 0; i < 3; i++) {
      const { job } = await jobs.createJob({ nodeId: NODE, job: { name: `fuzz-job-${i}`, queue: 'queue-a', spec: { payload: i } } });
      strings.push(job!.id, job!.name);
    }
    const { execution } = await executions.createExecution({ nodeId: NODE, execution: { jobId: strings.at(-2)!, requesterNodeId: NODE } });
    strings.push(execution!.id);
    await checkpoints.putCheckpoint({ nodeId: NODE, kind: NodeDatabaseKind.REQUESTER, name: 'fuzz-checkpoint', data: new Uint8Array([1, 2, 3]) });
    const { lease } = await leases.grant({ ttlSeconds: 3600n });
    await locks.acquire({ name: '/locks/fuzz', leaseId: lease!.id });
    await nodes.register({ node: { id: NODE, kind: NodeDatabaseKind.REQUESTER, address: '127.0.0.1:1' }, leaseId: lease!.id });
    return { strings, integers: [lease!.id, 1n, 2n, 3n] };
  } finally {
    for (const client of [jobs, executions, checkpoints, leases, locks, nodes]) client.close();
  }
}

describe('fuzzing every jobkeep.v1 RPC', () => {
  const processes = useNodeProcesses();

  it(`sends ${CASES} requests to ${METHODS} methods; the server never crashes, never answers UNKNOWN, keeps answering, and changes no database on a rejected request`, { timeout: 180_000 }, async () => {
    const dataDir = processes.tempDir();
    // Timers off: a sweep or a retention pass committing during a rejected call would look like its change.
    const { server, address } = await launchServer(processes, dataDir, ['--lease-sweep-interval-ms', '3600000', '--retention-interval-ms', '3600000']);
    const known = await seed(address);
    const random = new Prng(SEED);
    const fuzzer = new MessageFuzzer(random, known);
    const caller = new RawCaller(address, { deadlineMs: 3000, streamWindowMs: 150 });
    const fingerprint = new DataDirFingerprint(dataDir);
    const findings: Finding[] = [];
    const counts: Record<string, number> = {};
    const codes: Record<string, number> = {};
    const started = Date.now();
    console.log(`fuzz seed ${SEED} (set JOBKEEP_FUZZ_SEED to replay), ${CASES} cases`);

    const run = async (service: DescService, method: DescMethod, kind: Kind, index: number, request: Buffer) => {
      const name = `${service.typeName}/${method.name}`;
      const before = fingerprint.take();
      const outcome = await caller.call(service.typeName, method, request);
      counts[service.typeName] = (counts[service.typeName] ?? 0) + 1;
      codes[status[outcome.code]] = (codes[status[outcome.code]] ?? 0) + 1;
      const report = (problem: string) => findings.push({ method: name, kind, case: index, problem });
      if (outcome.code === status.UNKNOWN) report(`UNKNOWN: ${outcome.details}`);
      if (outcome.code === status.INTERNAL && !(kind !== 'valid' && isDeserializationFailure(outcome))) report(`INTERNAL: ${outcome.details}`);
      if (outcome.code === status.DEADLINE_EXCEEDED && !MAY_WAIT.has(name)) report('no answer before the deadline');
      const rejected = !outcome.open && outcome.code !== status.OK && outcome.code !== status.DEADLINE_EXCEEDED && outcome.code !== status.CANCELLED;
      if (rejected) {
        const after = fingerprint.take();
        if (after !== before) report(`rejected with ${status[outcome.code]} (${outcome.details}) but the data changed: ${before} -> ${after}`);
      }
      // On the same connection: a stream cut short by the fuzzer's window would hide a call that hung it.
      const probe = await caller.call(Health.typeName, Health.method.check, Buffer.alloc(0));
      if (probe.code !== status.OK) report(`the connection stopped answering: a health check after it got ${status[probe.code]}`);
    };

    for (const service of SERVICES) {
      for (const method of service.methods) {
        let index = 0;
        for (const length of RANDOM_LENGTHS) for (let repeat = 0; repeat < 2; repeat++) await run(service, method, 'random bytes', index++, random.bytes(length));
        for (let i = 0; i < VALID_CASES; i++) await run(service, method, 'valid', index++, Buffer.from(fuzzer.message(method.input)));
        for (let i = 0; i < MUTATED_CASES; i++) await run(service, method, 'mutated', index++, fuzzer.mutated(method.input));
      }
    }
    caller.close();
    fingerprint.close();

    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    console.log(`fuzz: ${total} cases in ${Date.now() - started} ms; by service ${JSON.stringify(counts)}; by status ${JSON.stringify(codes)}`);
    const unexpected = server.lines.filter((line) => line.msg === 'unexpected error');
    expect(total).toBe(CASES);
    expect(findings).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(server.child.exitCode).toBeNull();
    const health = createTypedClient(Health, address, { defaultDeadlineMs: 5000 });
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    health.close();
  });
});
