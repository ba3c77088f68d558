import type { Reply } from "../resp/reply.ts";

/**
 * A command that cannot answer yet (BLPOP on empty lists, WAIT for replicas).
 * The handler returns one of these instead of a reply; the client stops being
 * served (its later commands wait in order) until the command is retried
 * successfully, times out, or is unblocked.
 */
export class Blocked {
  constructor(
    /** Keys (in the client's db) whose modification should retry the command. */
    readonly keys: readonly Uint8Array[],
    /** Absolute ms, or null to wait forever. */
    readonly timeoutAt: number | null,
    /** What the client gets on timeout (a null array for BLPOP, null for BLMOVE; computed for WAIT). */
    readonly timeoutReply: Reply | (() => Reply),
    /** Other wake-up reasons (ACK_EVENT). */
    readonly events: readonly string[] = [],
  ) {}
}

/**
 * Returned by a handler that must not answer (REPLCONF ACK, PSYNC which
 * writes its own bytes, CLIENT REPLY OFF): the connection writes nothing.
 */
export const NO_REPLY: Reply = Object.freeze({ type: "simple", value: "" }) as Reply;

/** Wake-up reasons that are not keys (e.g. replica acknowledgements for WAIT). */
export const ACK_EVENT = "\0event:replica-ack";

/** A client blocked in a command, as the server tracks it. */
export interface BlockedClient {
  readonly argv: Uint8Array[];
  readonly db: number;
  readonly keyIds: readonly string[];
  readonly timeoutAt: number | null;
  readonly timeoutReply: Reply | (() => Reply);
  /** Hands the final reply to the connection and lets it go on with its next commands. */
  readonly resume: (reply: Reply) => void;
}
