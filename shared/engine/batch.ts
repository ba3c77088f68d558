import { ReplyWriter } from "../resp/encode.ts";
import { error, NULL, type Reply } from "../resp/reply.ts";
import { Blocked, NO_REPLY } from "./blocking.ts";
import type { Client } from "./client.ts";
import { startsAuthenticated } from "./auth.ts";
import type { Node } from "./node.ts";

/**
 * Runs a batch of commands for a caller that is not a socket (the worker's
 * HTTP API, through a Workers RPC call on the node's Durable Object): one
 * short-lived client per batch, commands in order, every reply encoded for the
 * client's protocol into one byte string. The client state that matters
 * between two batches of one session (db, protocol, user, an open MULTI)
 * travels with the batch, so the node keeps nothing between calls. WATCH
 * does not survive between batches (it needs the node to track the client).
 */

/** Per-session client state carried from one batch to the next. */
export interface BatchState {
  db: number;
  protocol: 2 | 3;
  user: string;
  authenticated: boolean;
  name: string | null;
  multi: { queue: Uint8Array[][]; aborted: boolean } | null;
  /** Cluster: READONLY (reads served by a replica) and a pending ASKING. */
  readonlyMode: boolean;
  asking: boolean;
}

export interface BatchResult {
  /** The replies, encoded for the client's protocol, back to back. */
  replies: Uint8Array;
  count: number;
  state: BatchState;
  /** The node's replication id and offset after the batch (a read-your-writes position). */
  replid: string;
  offset: number;
}

/** Commands that only make sense on a connection (they take it over or push to it). */
const CONNECTION_ONLY = new Set([
  "psync", "sync", "replconf", "monitor", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
]);

export function initialBatchState(node: Node, user: string | null): BatchState {
  return {
    db: 0,
    protocol: 2,
    user: user ?? "default",
    authenticated: user !== null || startsAuthenticated(node.server),
    name: null,
    multi: null,
    readonlyMode: false,
    asking: false,
  };
}

export async function runBatch(node: Node, commands: readonly Uint8Array[][], state: BatchState, addr = "127.0.0.1:0"): Promise<BatchResult> {
  const server = node.server;
  const client = server.createClient(addr, "127.0.0.1:0");
  restore(client, state);
  const writer = new ReplyWriter();
  try {
    for (const argv of commands) {
      let reply: Reply;
      const name = argv.length > 0 ? new TextDecoder().decode(argv[0]).toLowerCase() : "";
      if (argv.length === 0) {
        reply = error("ERR empty command");
      } else if (CONNECTION_ONLY.has(name)) {
        reply = error(`ERR '${name}' needs a RESP connection (ws://HOST/resp or /node/NAME)`);
      } else {
        const result = server.execute(client, argv);
        reply = result instanceof Blocked ? await waitBlocked(node, client, argv, result) : result;
        server.serveReadyKeys();
      }
      writer.write(reply === NO_REPLY ? NULL : reply, client.protocol);
    }
  } finally {
    server.removeClient(client);
  }
  const replication = node.replication;
  return {
    replies: writer.take(),
    count: commands.length,
    state: save(client),
    replid: replication.ids.replid,
    offset: replication.offset,
  };
}

/**
 * A blocking command (BLPOP ...) waits as on a connection, but never longer
 * than MAX_BLOCK_MS: the caller cannot tell the node it went away (an HTTP
 * client that gave up), and a command left blocked would later pop an element
 * nobody receives. Past the cap it answers its timeout reply.
 */
export const MAX_BLOCK_MS = 30_000;

function waitBlocked(node: Node, client: Client, argv: Uint8Array[], blocked: Blocked): Promise<Reply> {
  const server = node.server;
  return new Promise<Reply>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    server.block(client, argv, blocked, (reply) => {
      if (timer !== null) clearTimeout(timer);
      resolve(reply);
    });
    const remaining = blocked.timeoutAt === null ? Infinity : blocked.timeoutAt - server.host.now();
    if (remaining > MAX_BLOCK_MS) {
      timer = setTimeout(() => {
        const timeout = blocked.timeoutReply;
        server.unblock(client, typeof timeout === "function" ? timeout() : timeout);
      }, MAX_BLOCK_MS);
    }
  });
}

function restore(client: Client, state: BatchState): void {
  client.db = state.db;
  client.protocol = state.protocol;
  client.user = state.user;
  client.authenticated = state.authenticated;
  client.name = state.name;
  client.multi = state.multi ? { queue: [...state.multi.queue], aborted: state.multi.aborted } : null;
  client.readonlyMode = state.readonlyMode;
  client.asking = state.asking;
}

function save(client: Client): BatchState {
  return {
    db: client.db,
    protocol: client.protocol,
    user: client.user,
    authenticated: client.authenticated,
    name: client.name,
    multi: client.multi ? { queue: client.multi.queue, aborted: client.multi.aborted } : null,
    readonlyMode: client.readonlyMode,
    asking: client.asking,
  };
}
