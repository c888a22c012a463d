const ADMITTED: Promise<void> = Promise.resolve();

/**
 * Spreads calls over turns of the event loop: at most `perTurn` go on in one turn, the next ones
 * two turns later (see scheduleTurnEnd), first come first served.
 *
 * For coordination.db's lock calls, which it decides the moment they go on and answers once the
 * turn's decisions have committed: when 64 calls arrive in one socket read, deciding them all in
 * that turn sends every answer after one COMMIT, and the client then reads 64 answers while the
 * server waits for it. Spread over turns, the client reads the first answers while the server
 * decides the next calls (tools/bench/RESULTS.md, "lock calls over several turns").
 * Hand-written: it is a counter and a FIFO list tied to setImmediate, which no scheduling library
 * offers as such.
 */
export class TurnAdmission {
  private admittedThisTurn = 0;
  private readonly waiting: (() => void)[] = [];
  private turnEndScheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves when the caller may go on: in this turn when it has room and nobody waits, else in a later one. */
  admit(): Promise<void> {
    this.scheduleTurnEnd();
    if (this.waiting.length === 0 && this.admittedThisTurn < this.perTurn) {
      this.admittedThisTurn++;
      return ADMITTED;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /**
   * The next callers go on two setImmediate hops from now: the commit that the callers of this
   * turn schedule (also with setImmediate, after this) runs in the first, so that their answers
   * are on their way before anyone else is decided.
   */
  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    setImmediate(() => setImmediate(() => this.nextTurn()));
  }

  private nextTurn(): void {
    this.turnEndScheduled = false;
    const next = this.waiting.splice(0, this.perTurn);
    this.admittedThisTurn = next.length;
    for (const resolve of next) resolve();
    // The count is this turn's alone: it is reset at this turn's end too, whoever still waits.
    if (next.length > 0) this.scheduleTurnEnd();
  }
}
