import type { Command } from "../commands/spec.ts";
import type { Client } from "./client.ts";
import type { Keyspace } from "./keyspace.ts";
import type { Server } from "./server.ts";
import { CommandError, Errors } from "./errors.ts";
import { Blocked } from "./blocking.ts";
import type { Reply } from "../resp/reply.ts";
import { parseDouble, parseSafeInteger } from "../util/numbers.ts";

const decoder = new TextDecoder();

/**
 * One execution of one command: what a handler receives. It carries the
 * arguments, the client, the server, and the command's replication effect.
 *
 * Effects follow Redis's rules: a command that changed the dataset (`dirty`)
 * is propagated as it was called, unless the handler rewrote it into its
 * deterministic form (`rewrite`), added effects (`alsoPropagate`) or
 * suppressed it (`noPropagate`).
 */
export class CommandCall {
  /** How many changes the command made (Redis's server.dirty delta). */
  dirty = 0;
  /** Replace the propagated command with this argv (SET .. EX -> SET .. PXAT, INCRBYFLOAT -> SET). */
  rewritten: Uint8Array[] | null = null;
  /** Propagate nothing for this call even when dirty (effects were emitted one by one instead). */
  suppressed = false;

  constructor(
    readonly server: Server,
    readonly client: Client,
    readonly command: Command,
    readonly argv: Uint8Array[],
  ) {}

  get db(): number {
    return this.client.db;
  }

  get keys(): Keyspace {
    return this.server.keyspace;
  }

  /** The command's clock in ms (fixed for the whole command, and for a whole EXEC). */
  get now(): number {
    return this.server.keyspace.now;
  }

  /** Argument i as text (UTF-8, lossy). */
  str(i: number): string {
    return decoder.decode(this.argv[i]);
  }

  /** Argument i lowercased, for matching options case-insensitively. */
  option(i: number): string {
    return decoder.decode(this.argv[i]).toLowerCase();
  }

  /** Argument i as an integer in the JS safe range, or ERR value is not an integer. */
  int(i: number, message: string = Errors.notInteger): number {
    const n = parseSafeInteger(this.argv[i]);
    if (n === null) throw new CommandError(message);
    return n;
  }

  /** Argument i as a double (no NaN), or ERR value is not a valid float. */
  float(i: number, message: string = Errors.notFloat): number {
    const n = parseDouble(this.argv[i]);
    if (n === null) throw new CommandError(message);
    return n;
  }

  /**
   * Waits for `keys` to change (blocking commands). Inside MULTI/EXEC a
   * blocking command does not block: it answers `timeoutReply` at once, as
   * in Redis. `timeoutMs` is relative; 0 waits forever.
   */
  block(
    keys: readonly Uint8Array[],
    timeoutMs: number,
    timeoutReply: Reply | (() => Reply),
    events: readonly string[] = [],
  ): Reply | Blocked {
    if (this.server.inTransaction) return typeof timeoutReply === "function" ? timeoutReply() : timeoutReply;
    return new Blocked(keys, timeoutMs === 0 ? null : this.now + timeoutMs, timeoutReply, events);
  }

  /** True when this call is a blocked command being retried (its first run already blocked). */
  get isRetry(): boolean {
    return this.client.blocked !== null;
  }

  rewrite(argv: (Uint8Array | string)[]): void {
    this.rewritten = argv.map(toBytes);
  }

  /** Emit an effect now, in addition to (or instead of, with noPropagate) the call itself. */
  alsoPropagate(db: number, argv: (Uint8Array | string)[]): void {
    this.server.propagate(db, argv.map(toBytes));
  }

  noPropagate(): void {
    this.suppressed = true;
  }
}

const encoder = new TextEncoder();
function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}
