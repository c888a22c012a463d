/** An online compute node, as the registry lists it. */
export interface ComputeNode {
  id: string;
  labels: Record<string, string>;
  /** How many executions it runs at once. */
  slots: number;
}

/** Whether a node's labels include every constraint of a job. */
export function matchesConstraints(labels: Record<string, string>, constraints: Record<string, string>): boolean {
  return Object.entries(constraints).every(([key, value]) => labels[key] === value);
}

/**
 * Where this requester can place work: the online compute nodes of the last registry read,
 * and this requester's own live executions on them. A node's free slots are its `slots` minus
 * the live executions and the reservations this requester holds on it; other requesters' work
 * is the compute node's to weigh, and it rejects a bid it has no room for.
 *
 * Everything here is synchronous, so that a pick and the reservation or execution it leads to
 * happen with no other pick in between.
 */
export class NodePicker {
  private online = new Map<string, ComputeNode>();
  private snapshotTaken = false;
  private readonly live = new Map<string, { nodeId: string; jobId: string }>();
  private readonly liveCounts = new Map<string, number>();
  private readonly reserved = new Map<string, number>();
  private readonly coolingUntil = new Map<string, number>();

  /** Replaces the online nodes with a fresh read of the registry. */
  setOnlineNodes(nodes: readonly ComputeNode[]): void {
    this.online = new Map(nodes.map((node) => [node.id, node]));
    this.snapshotTaken = true;
  }

  /** Whether a node is known to be offline; never before the registry has been read once. */
  isOffline(nodeId: string): boolean {
    return this.snapshotTaken && !this.online.has(nodeId);
  }

  /** Counts an execution against its node's slots until it ends. */
  track(executionId: string, nodeId: string, jobId: string): void {
    if (this.live.has(executionId)) return;
    this.live.set(executionId, { nodeId, jobId });
    this.liveCounts.set(nodeId, (this.liveCounts.get(nodeId) ?? 0) + 1);
  }

  /** Frees an execution's slot; true if it held one. */
  untrack(executionId: string): boolean {
    const entry = this.live.get(executionId);
    if (entry === undefined) return false;
    this.live.delete(executionId);
    this.liveCounts.set(entry.nodeId, (this.liveCounts.get(entry.nodeId) ?? 1) - 1);
    return true;
  }

  /** The live executions, with their node and job. */
  liveExecutions(): IterableIterator<[string, { nodeId: string; jobId: string }]> {
    return this.live.entries();
  }

  reserve(nodeId: string): void {
    this.reserved.set(nodeId, (this.reserved.get(nodeId) ?? 0) + 1);
  }

  unreserve(nodeId: string): void {
    const count = (this.reserved.get(nodeId) ?? 0) - 1;
    if (count > 0) this.reserved.set(nodeId, count);
    else this.reserved.delete(nodeId);
  }

  /** Gives a node that rejected a bid no new bids until `until` (ms since the epoch). */
  coolDown(nodeId: string, until: number): void {
    if (until > (this.coolingUntil.get(nodeId) ?? 0)) this.coolingUntil.set(nodeId, until);
  }

  /** A node's free slots, as this requester counts them. */
  free(nodeId: string): number {
    const node = this.online.get(nodeId);
    if (node === undefined) return 0;
    return node.slots - (this.liveCounts.get(nodeId) ?? 0) - (this.reserved.get(nodeId) ?? 0);
  }

  /** Whether any node could take work now, whatever the job's constraints. */
  anyFree(now: number): boolean {
    for (const node of this.online.values()) if (this.free(node.id) > 0 && !this.cooling(node.id, now)) return true;
    return false;
  }

  /**
   * The node for a job: online, with the job's constraints among its labels, not cooling down
   * after a rejection, with a free slot; the one with the most free slots, and not `avoid` (the
   * node whose execution of the job failed last) when another will do.
   */
  pick(constraints: Record<string, string>, avoid: string | undefined, now: number): ComputeNode | undefined {
    const candidates = [...this.online.values()].filter(
      (node) => matchesConstraints(node.labels, constraints) && this.free(node.id) > 0 && !this.cooling(node.id, now),
    );
    const preferred = candidates.some((node) => node.id !== avoid) ? candidates.filter((node) => node.id !== avoid) : candidates;
    let best: ComputeNode | undefined;
    let ties = 0;
    for (const node of preferred) {
      const difference = best === undefined ? 1 : this.free(node.id) - this.free(best.id);
      // Among equals, a random one (reservoir sampling): requesters started together spread out.
      if (difference > 0) {
        best = node;
        ties = 1;
      } else if (difference === 0 && Math.random() * ++ties < 1) {
        best = node;
      }
    }
    return best;
  }

  private cooling(nodeId: string, now: number): boolean {
    const until = this.coolingUntil.get(nodeId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.coolingUntil.delete(nodeId);
    return false;
  }
}
