/**
 * Errors the client raises. Three kinds, so callers can tell them apart:
 *
 * - `RedisError`: the server answered with an error reply. `code` is the
 *   reply's first word (`ERR`, `WRONGTYPE`, `MOVED`, `ASK`, `NOAUTH`, ...),
 *   `message` the whole line as the server sent it.
 * - `ConnectionError`: the transport failed (could not connect, the socket
 *   dropped with the command in flight, the client was closed). A command
 *   that failed this way may or may not have run.
 * - `ClusterError`: the cluster client gave up (too many redirections, no
 *   usable slot map).
 */
import type { ErrorReply } from "../../shared/resp/index.ts";

export class RedisError extends Error {
  override readonly name = "RedisError";
  /** The first word of the error line: "ERR", "WRONGTYPE", "MOVED", ... */
  readonly code: string;

  constructor(
    message: string,
    /** The command that got this reply, when known (its first word(s) only, never values). */
    readonly command?: string,
  ) {
    super(message);
    const space = message.indexOf(" ");
    this.code = space < 0 ? message : message.slice(0, space);
  }

  static fromReply(reply: ErrorReply, command?: string): RedisError {
    return new RedisError(reply.value, command);
  }
}

export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
  /**
   * True when the command was written to a socket that then failed, so it may
   * have run; false when it never left the client (safe to retry).
   */
  readonly sent: boolean;
  constructor(message: string, options?: { cause?: unknown; sent?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.sent = options?.sent ?? false;
  }
}

export class ClusterError extends Error {
  override readonly name = "ClusterError";
  constructor(
    message: string,
    /** The last error reply seen before giving up, if any. */
    readonly lastError?: RedisError,
  ) {
    super(message);
  }
}

/** A short text for an unknown thrown value. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}
