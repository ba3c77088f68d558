/**
 * One connection's state, as Redis keeps it in `client`: selected db,
 * protocol, name, the MULTI queue and WATCHed keys. The transport (a Durable
 * Object WebSocket, a Deno socket) owns the bytes; this owns the meaning.
 */
import type { BlockedClient } from "./blocking.ts";

export interface WatchedKey {
  readonly db: number;
  readonly key: Uint8Array;
  /** The key was already expired when watched (Redis: an expiry after WATCH aborts, one before does not). */
  readonly expiredAtWatch: boolean;
}

export interface MultiState {
  readonly queue: Uint8Array[][];
  /** A command failed to queue (unknown, wrong arity): EXEC answers EXECABORT. */
  aborted: boolean;
}

/** A client's raw output, for replies that are not replies (the replication stream). */
export interface ClientOutput {
  send(bytes: Uint8Array): void;
  close(reason: string): void;
}

export class Client {
  db = 0;
  protocol: 2 | 3 = 2;
  name: string | null = null;
  libName: string | null = null;
  libVersion: string | null = null;
  user = "default";
  authenticated = true;
  multi: MultiState | null = null;
  /** "db:key-as-latin1" -> watched key. */
  readonly watched = new Map<string, WatchedKey>();
  /** A watched key was modified: the next EXEC fails. */
  dirtyCas = false;
  /** Cluster: the next command may touch a slot being imported (ASKING). */
  asking = false;
  /** Cluster: reads may be served by this replica (READONLY). */
  readonlyMode = false;
  noEvict = false;
  noTouch = false;
  /** The connection's raw output (set by its Connection; null for internal clients). */
  output: ClientOutput | null = null;
  /**
   * "replica": a replica attached to this node (after PSYNC); "master": this
   * node's own link to its master, applying the stream (no replies, no guards).
   */
  role: "normal" | "replica" | "master" = "normal";
  /** Replication offset right after this client's last write (WAIT counts replicas past it). */
  lastWriteOffset = 0;
  /** Set while the client waits in a blocking command. */
  blocked: BlockedClient | null = null;
  /** Close the connection once the pending replies are written (QUIT, protocol errors). */
  closeAfterReply = false;
  lastCommand = "NULL";
  readonly createdAt: number;
  lastInteraction: number;

  constructor(
    readonly id: number,
    readonly addr: string,
    readonly laddr: string,
    now: number,
  ) {
    this.createdAt = now;
    this.lastInteraction = now;
  }

  get inMulti(): boolean {
    return this.multi !== null;
  }
}

/** A stable string for a (db, key) pair, usable as a Map key. Bytes map 1:1 to UTF-16 code units. */
export function dbKeyId(db: number, key: Uint8Array): string {
  let s = `${db}:`;
  for (let i = 0; i < key.length; i += 8192) {
    s += String.fromCharCode.apply(null, key.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}
