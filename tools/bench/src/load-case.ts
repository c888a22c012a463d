/** Which server a case measures: the echo ceiling, jobkeep, or etcd as the peer. */
export type PeerSystem = 'echo' | 'jobkeep' | 'etcd';

/** A case made ready for one in-flight count. */
export interface PreparedLoad {
  /** One call; see `runLoad` for its arguments. */
  operation: (index: number, caller: number) => Promise<unknown>;
  /** How many calls there is material for (jobs queued for claims), when limited. */
  maxOps?: number;
  /** Gives back what `prepare` took (leases, watch streams). */
  finish?: () => Promise<void>;
}

/** One operation of one system, measured at each in-flight count. */
export interface LoadCase {
  system: PeerSystem;
  /** Short and stable, for the comparisons of targets: "CreateJob", "put", "lock contended". */
  operation: string;
  /** What one call does, for the table. */
  description: string;
  serverPid: number;
  itemsPerOp?: number;
  prepare(concurrency: number): Promise<PreparedLoad>;
}

/** A case before it is tied to its server. */
export type CaseSpec = Omit<LoadCase, 'system' | 'serverPid'>;

/** Ties cases to the system and server process they measure. */
export function casesOf(system: PeerSystem, serverPid: number, specs: CaseSpec[]): LoadCase[] {
  return specs.map((spec) => ({ ...spec, system, serverPid }));
}
