/**
 * What a node needs from the runtime that hosts it. The Durable Object shell
 * and the Deno host each implement this in a few lines; the engine never
 * touches `cloudflare:` or `Deno` itself.
 */
export interface NodeHost {
  /** Wall clock in ms. */
  now(): number;
  /**
   * Ask to be woken (Node.alarm) at `at` ms, or not at all (null). One timer
   * per node: the Durable Object alarm, or a setTimeout on Deno.
   */
  setWakeup(at: number | null): void;
  /** Runtime name for INFO server (e.g. "workerd", "deno"). */
  readonly runtime: string;
  /** The node's name: the Durable Object name or the Deno --name. */
  readonly nodeName: string;
  log?(level: "debug" | "info" | "warn" | "error", message: string): void;
  /**
   * Opens a WebSocket to another node (replication): a node name of the same
   * deployment, or a ws:// / wss:// URL of a node endpoint.
   */
  dial?(target: string, handlers: DialHandlers): Promise<NodeSocket>;
  /**
   * The coordinator of cluster `name`, for the admin commands that change a
   * topology (CLUSTER FAILOVER, CLUSTER MIGRATESLOTS); absent where nodes
   * cannot reach one.
   */
  coordinator?(cluster: string): ClusterCoordinator;
}

/** What a node asks of its cluster's coordinator (durable/cluster-do.ts). */
export interface ClusterCoordinator {
  /** Moves slots start..end and their keys to the shard of `toShard` (a node id or name); resolves when done. */
  moveSlots(start: number, end: number, toShard: string): Promise<{ slots: number; keys: number }>;
  /** Promotes `options.replica` in its shard; resolves when done. */
  failover(shard: string, options: { replica?: string; force?: boolean }): Promise<unknown>;
}

/** An outgoing node-to-node socket. */
export interface NodeSocket {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

export interface DialHandlers {
  onMessage(bytes: Uint8Array): void;
  onClose(code: number, reason: string): void;
}
