import type { DenoSql } from "./sql.ts";

/**
 * The Durable Object output gate, on Deno: everything one event does to a
 * node (a client's frame, a link's frame, a timer) commits as one SQLite
 * transaction, and what the node sends meanwhile (replies, the stream to
 * replicas, closes) leaves only after that commit. With `--sync full` that
 * is one fsync per event instead of one per command, and a reply is never
 * seen before its write is durable. Commands still nest inside as savepoints,
 * so each keeps its own rollback.
 */
export class OutputGate {
  private held: (() => void)[] | null = null;

  constructor(
    private readonly sql: DenoSql,
    /** A commit failed: what was held cannot be sent; the host closes the node's connections. */
    private readonly onLost: (error: unknown) => void,
  ) {}

  /** Runs `op` (a send or a close) now, or after the current event's commit. */
  out(op: () => void): void {
    if (this.held) this.held.push(op);
    else op();
  }

  /** Runs one event's work in one transaction; releases what it sent once committed. */
  event(fn: () => void): void {
    if (this.held) return fn(); // already inside an event
    const held: (() => void)[] = (this.held = []);
    let failure: unknown;
    let committed = false;
    try {
      this.sql.transaction(() => {
        try {
          fn();
        } catch (e) {
          // Whatever the completed commands wrote stays (as without the gate); the error goes on after the commit.
          failure ??= e;
        }
      });
      committed = true;
    } catch (e) {
      failure ??= e;
    } finally {
      this.held = null;
    }
    if (committed) for (const op of held) op();
    else this.onLost(failure);
    if (failure !== undefined) throw failure;
  }
}
