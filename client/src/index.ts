/**
 * tidekv client: RESP over WebSocket for browsers, Deno, workerd and Node 20+.
 *
 *   import { createClient } from "tidekv/client";
 *   const db = await createClient("ws://127.0.0.1:8787/resp");
 *   await db.call("SET", "greeting", "hello");
 */
import { Client, type ClientOptions, type RedisCommands } from "./client.ts";
import { ClusterClient, type ClusterClientOptions } from "./cluster.ts";

export { Client, execResult } from "./client.ts";
export type { ClientOptions, ClientEvent, ReconnectOptions, RedisCommands } from "./client.ts";
export { ClusterClient } from "./cluster.ts";
export type { ClusterClientOptions } from "./cluster.ts";
export { RedisError, ConnectionError, ClusterError } from "./errors.ts";
export { toValue, replyText, replyNumber, replyPairs, replyItems } from "./values.ts";
export type { Value, ToValueOptions } from "./values.ts";
export type { Arg, Argv } from "./connection.ts";
export * from "./cluster-protocol.ts";
export { normalizeUrl, nodeUrl, respUrl, baseUrl, nodeNameOf, withToken, redactUrl } from "./url.ts";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.ts";
export type { Reply } from "../../shared/resp/index.ts";

/** A connected client: cluster-aware (routes by slot, follows MOVED/ASK) with `cluster: true`. */
export async function createClient(
  url: string,
  options: ClusterClientOptions & { cluster?: boolean } = {},
): Promise<RedisCommands> {
  const { cluster, ...rest } = options;
  return cluster ? ClusterClient.connect(url, rest) : Client.connect(url, rest as ClientOptions);
}
