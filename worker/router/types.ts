import type { Reply } from "../../shared/resp/reply.ts";

/**
 * How the worker's front ends (the /resp proxy, the HTTP API) reach the
 * store: a Router opens Sessions; a Session runs commands in order, wherever
 * they have to go (one node, or the shard owning each key's slot).
 */
export interface SessionOptions {
  /** Serve reads from replicas when they are known to be fresh enough (READONLY / read-your-writes). */
  readonly readFromReplicas?: boolean;
  /** A read-your-writes token from an earlier write (see the cluster issue). */
  readonly syncToken?: string | null;
  /** Who the client authenticated as, for nodes that enforce ACLs. */
  readonly user?: string;
  /** The client may only read (read-only token). */
  readonly readonly?: boolean;
  /**
   * Learn the replication offset after every write so `syncToken` covers it
   * (default: on; the /resp proxy turns it off until READONLY, since it costs
   * a small extra command per batch of writes).
   */
  readonly trackSyncToken?: boolean;
  /**
   * The client has not authenticated yet (no `user`) and the deployment
   * requires it: commands the router answers itself get NOAUTH until AUTH
   * (or HELLO ... AUTH) succeeds on the nodes.
   */
  readonly requireAuth?: boolean;
  /**
   * Replies the router does not change (one node's reply to one command) may
   * be delivered as the node sent them, already encoded: for front ends that
   * write RESP anyway (the /resp proxy), which then skip decoding and
   * encoding every reply.
   */
  readonly passThrough?: boolean;
}

export interface Session {
  /** Sends one command; replies resolve in the order commands were sent. */
  send(argv: Uint8Array[]): Promise<Reply>;
  /** The read-your-writes token after the last write, if any. */
  readonly syncToken: string | null;
  close(): void;
}

export interface Router {
  open(options?: SessionOptions): Promise<Session>;
}
