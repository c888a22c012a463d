import { resourceExhausted } from '@jobkeep/errors';

export const DEFAULT_MAX_WATCHES_PER_CONNECTION = 64;

/**
 * Watch streams open per client connection. A watch lives as long as its client wants and holds
 * a history listener, a page of events and a write buffer meanwhile; bounding them per
 * connection keeps one client (a loop that opens watches and never closes them) from taking the
 * server's memory. A connection is known by its peer address (`ipv4:10.0.0.7:53412`): grpc-js
 * gives each TCP connection its own.
 */
export class WatchSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly maxPerConnection: number) {}

  /**
   * Takes a slot for a watch on the connection `peer`, or throws RESOURCE_EXHAUSTED when all are
   * taken. The returned function gives the slot back; calling it again does nothing.
   */
  take(peer: string): () => void {
    const count = this.open.get(peer) ?? 0;
    if (count >= this.maxPerConnection) {
      throw resourceExhausted(
        `this connection already has ${count} watches open, the most one connection may have (--max-watches-per-connection): ` +
          'close a watch, or watch over another connection',
      );
    }
    this.open.set(peer, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(peer) ?? 1) - 1;
      if (left === 0) this.open.delete(peer);
      else this.open.set(peer, left);
    };
  }
}
