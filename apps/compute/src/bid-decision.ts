import { parseJobSpec } from '@jobkeep/client';

export type BidDecision = { accept: true } | { accept: false; reason: string };

export interface BidContext {
  /** The execution's job spec, as stored. */
  jobSpec: unknown;
  labels: Readonly<Record<string, string>>;
  slots: number;
  /** Executions this node has accepted and not yet finished. */
  busySlots: number;
  stopping: boolean;
}

/**
 * Whether this node takes a bid. It takes it when it has a free slot and its labels satisfy the
 * job's constraints (the requester chose the node by them, but from a registration that may be
 * older than the node's current labels). A spec that does not parse is taken, and then fails
 * with the reason: a rejection would only send it to the next node, which would refuse it too.
 */
export function decideBid(context: BidContext): BidDecision {
  if (context.stopping) return { accept: false, reason: 'node shutting down' };
  if (context.busySlots >= context.slots) return { accept: false, reason: 'no free slot' };
  const constraints = constraintsOf(context.jobSpec);
  if (constraints === undefined) return { accept: true };
  const unmet = Object.entries(constraints).filter(([key, value]) => context.labels[key] !== value);
  if (unmet.length > 0) return { accept: false, reason: `constraints not met: ${unmet.map(([key, value]) => `${key}=${value}`).join(',')}` };
  return { accept: true };
}

/** The spec's constraints; undefined when the spec does not parse. */
function constraintsOf(jobSpec: unknown): Record<string, string> | undefined {
  try {
    return parseJobSpec(jobSpec).constraints ?? {};
  } catch {
    return undefined;
  }
}
