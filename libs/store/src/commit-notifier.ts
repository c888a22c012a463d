import type { NodeDatabaseKind } from './database-locations.js';

/** Called after a commit; it must only take note (set a flag, settle a promise), never work. */
export type CommitListener = () => void;

/**
 * Tells watchers that a node database has committed a change, so that they read the history
 * again instead of polling it. Listeners are kept by kind and node id, not by open handle, so a
 * subscription survives the LRU closing the database and opening it again. Nothing is kept for
 * a database nobody listens to.
 */
export class CommitNotifier {
  private readonly listeners = new Map<string, Set<CommitListener>>();

  /** Calls `listener` after every commit to the node's database of `kind`; returns the unsubscribe. */
  subscribe(kind: NodeDatabaseKind, nodeId: string, listener: CommitListener): () => void {
    const key = keyOf(kind, nodeId);
    let set = this.listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(key, set);
    }
    // A wrapper per subscription, so that one listener subscribed twice is also removed twice.
    const entry: CommitListener = () => listener();
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.listeners.get(key) === set) this.listeners.delete(key);
    };
  }

  notify(kind: NodeDatabaseKind, nodeId: string): void {
    const set = this.listeners.get(keyOf(kind, nodeId));
    if (set === undefined) return;
    // A listener that throws must not keep the others from hearing of the commit, nor fail the
    // write whose commit is already durable.
    for (const listener of [...set]) {
      try {
        listener();
      } catch {
        // Listeners only take note; there is nothing to undo.
      }
    }
  }

  /** How many subscriptions are open, over every database. */
  get size(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }
}

function keyOf(kind: NodeDatabaseKind, nodeId: string): string {
  return `${kind}:${nodeId}`;
}
