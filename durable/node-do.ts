import { DurableObject } from "cloudflare:workers";
import { Node, type SavedClient } from "../shared/engine/node.ts";
import type { Connection, Transport } from "../shared/engine/connection.ts";
import type { DialHandlers, NodeSocket } from "../shared/engine/host.ts";
import { durableSql } from "./sql.ts";
import type { ClusterDO } from "./cluster-do.ts";
import type { ApplyOptions, ApplyResult, NodeClusterStatus } from "../shared/cluster/node-state.ts";
import { importKeys, migrateBatch, type BatchLimits, type MigrateResult } from "../shared/cluster/migrate-keys.ts";
import { DEFAULT_CLUSTER, parseNodeName, type Topology } from "../shared/cluster/topology.ts";
import { configureTokens, preAuthenticate, DEFAULT_USER } from "../shared/engine/auth.ts";
import { aclOf, type AclChange, type UserRecord } from "../shared/engine/acl.ts";
import { initialBatchState, runBatch, type BatchResult, type BatchState } from "../shared/engine/batch.ts";

export interface Env {
  NODE: DurableObjectNamespace<NodeDO>;
  /** Full-access token (wrangler secret or var); unset = open. */
  TIDEKV_TOKEN?: string;
  /** Read-only token (wrangler secret or var). */
  TIDEKV_READONLY_TOKEN?: string;
  /** Cluster coordinators, one per cluster (durable/cluster-do.ts). */
  CLUSTER: DurableObjectNamespace<ClusterDO>;
  /** Shards and replicas per shard of a cluster created on first use (default 3 and 1). */
  TIDEKV_SHARDS?: string;
  TIDEKV_REPLICAS?: string;
}

/**
 * Optional request header with the public endpoint's port, for MOVED/ASK and
 * CLUSTER replies. Without it a node takes the port of the request URL the
 * worker forwards (443/80 when the URL has none).
 */
export const PUBLIC_PORT_HEADER = "x-tidekv-public-port";

/** Request header carrying the node's name from the worker (a DO does not otherwise know its name). */
export const NODE_NAME_HEADER = "x-tidekv-node";

/**
 * Request header telling the node that the connection is already
 * authenticated, and as whom: set by the worker after checking a token on the
 * WebSocket upgrade, and by nodes dialing each other (replication links).
 * The worker strips every `x-tidekv-*` header from public requests, so only
 * tidekv's own code can set it.
 */
export const AUTH_HEADER = "x-tidekv-auth";

/** Where a node keeps its own name (see NodeDO.nodeName). */
const NODE_NAME_KEY = "tidekv:node-name";

/** What the worker asks of a node over Workers RPC (`NodeDO.run`). */
export interface RunRequest {
  readonly commands: Uint8Array[][];
  /** The session's client state from the previous batch; null for a new session. */
  readonly state: BatchState | null;
  /** For a new session: the user the worker already authenticated (null: start as a fresh connection would). */
  readonly user: string | null;
  /** The node's name (a Durable Object does not otherwise know it). */
  readonly node: string;
  readonly addr?: string;
}

/**
 * One tidekv node as a Durable Object: a thin shell that hands WebSocket
 * events and alarms to the runtime-independent Node. Client sockets use the
 * hibernation API; the small per-client state rides in the socket attachment.
 */
export class NodeDO extends DurableObject<Env> {
  private node: Node | null = null;
  /** ACL changes on their way to the rest of the cluster. */
  private readonly aclPushes = new Set<Promise<void>>();
  private readonly sockets = new Map<WebSocket, Connection>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;

  private ensureNode(name?: string): Node {
    if (this.node) return this.node;
    const storage = this.ctx.storage;
    const nodeName = this.nodeName(name);
    this.node = new Node(durableSql(storage), {
      now: () => Date.now(),
      setWakeup: (at) => {
        if (at === null) void storage.deleteAlarm();
        else void storage.setAlarm(at);
      },
      runtime: "workerd",
      nodeName,
      dial: (target, handlers) => this.dial(target, handlers),
      coordinator: (cluster) => {
        if (!this.env.CLUSTER) throw new Error("no cluster coordinator binding (CLUSTER)");
        return this.env.CLUSTER.getByName(cluster);
      },
      log: (level, message) => console[level === "debug" ? "log" : level](`[tidekv ${nodeName}] ${message}`),
    });
    configureTokens(this.node.server, {
      token: this.env.TIDEKV_TOKEN || null,
      readonlyToken: this.env.TIDEKV_READONLY_TOKEN || null,
    });
    aclOf(this.node.server).onChange = (change) => this.pushAclChange(nodeName, change);
    // Sockets that stayed open while the object hibernated come back with their saved state.
    for (const ws of this.ctx.getWebSockets()) {
      const saved = ws.deserializeAttachment() as SavedClient | null;
      if (saved) this.sockets.set(ws, this.node.resume(socketTransport(ws), saved));
    }
    return this.node;
  }

  /**
   * The node's name: the one the caller gave (every stub call from tidekv
   * carries it), else the one the object was created under. An object woken
   * by its alarm or by a hibernated socket may not be told its name (the
   * runtime's `ctx.id.name` is not always there), so the first name it is
   * given is kept in its storage; a node must never come up under another
   * name, which would make it a stranger in its own cluster topology.
   */
  private nodeName(given: string | undefined): string {
    const kv = this.ctx.storage.kv;
    const stored = kv.get<string>(NODE_NAME_KEY);
    const name = given ?? this.ctx.id.name ?? stored ?? this.ctx.id.toString();
    if (stored === undefined && (given !== undefined || this.ctx.id.name !== undefined)) kv.put(NODE_NAME_KEY, name);
    return name;
  }

  override async fetch(request: Request): Promise<Response> {
    const node = this.ensureNode(request.headers.get(NODE_NAME_HEADER) ?? undefined);
    const port = publicPort(request);
    if (port !== null) node.cluster.notePort(port);
    if (!(await this.joinDefaultCluster(node))) {
      // Serving as a standalone node would accept keys of any slot.
      return new Response(`tidekv: ${node.host.nodeName} has no cluster topology (the coordinator is unavailable, or the node is not part of cluster ${DEFAULT_CLUSTER})\n`, { status: 503 });
    }
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("tidekv node: connect with a WebSocket to speak RESP\n", { status: 426 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const addr = `${request.headers.get("CF-Connecting-IP") ?? "127.0.0.1"}:${request.headers.get("x-tidekv-client-port") ?? 0}`;
    const connection = node.open(socketTransport(server), addr);
    const preauthenticated = request.headers.get(AUTH_HEADER);
    if (preauthenticated) preAuthenticate(connection.client, preauthenticated);
    server.serializeAttachment(Node.save(connection.client));
    this.sockets.set(server, connection);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Workers RPC: runs a batch of commands on a short-lived client (the HTTP
   * API's path: no WebSocket to set up per request, one round trip per
   * batch) and returns the encoded replies. Only tidekv's worker holds a stub.
   */
  async run(request: RunRequest): Promise<BatchResult> {
    const node = this.ensureNode(request.node);
    const state = request.state ?? initialBatchState(node, request.user);
    try {
      const result = await runBatch(node, request.commands, state, request.addr);
      // An ACL change answers once every node of the cluster has it.
      if (this.aclPushes.size > 0) await Promise.allSettled([...this.aclPushes]);
      return result;
    } finally {
      this.updateKeepAlive();
    }
  }

  /**
   * Workers RPC from the cluster coordinator: the cluster's ACL users
   * (ACL SETUSER/DELUSER made on another node), replacing this node's.
   */
  applyAcl(users: { name: string; user: UserRecord }[], name?: string): void {
    aclOf(this.ensureNode(name).server).replaceAll(users);
  }

  /**
   * ACL users apply cluster-wide: a change made here goes to the cluster's
   * coordinator, which pushes the cluster's users to every other node.
   * Standalone nodes (not named after a cluster) keep their users to themselves.
   */
  private pushAclChange(nodeName: string, change: AclChange): void {
    const parsed = parseNodeName(nodeName);
    if (!parsed || !this.env.CLUSTER) return;
    const push: Promise<void> = this.env.CLUSTER.getByName(parsed.cluster)
      .aclChanged(change, nodeName)
      .then(
        (report) => {
          if (report.failed.length) console.warn(`[tidekv ${nodeName}] ACL change not applied on: ${report.failed.join(", ")}`);
        },
        (e) => console.warn(`[tidekv ${nodeName}] ACL change not pushed to cluster ${parsed.cluster}: ${(e as Error)?.message ?? e}`),
      )
      .finally(() => this.aclPushes.delete(push));
    this.aclPushes.add(push);
    this.ctx.waitUntil(push);
  }

  /**
   * Workers RPC from the cluster coordinator: a topology to adopt if its epoch
   * is higher than the node's (shared/cluster/node-state.ts).
   */
  applyTopology(topology: Topology, options: ApplyOptions & { name?: string } = {}): ApplyResult {
    const result = this.ensureNode(options.name).cluster.apply(topology, options);
    this.updateKeepAlive();
    return result;
  }

  /**
   * Workers RPC from the cluster coordinator (live resharding, moveSlots):
   * hands up to `count` keys of `slot` to master `target` and deletes them
   * here. Nothing else runs on this node meanwhile (as MIGRATE blocks Redis),
   * so no write lands between the copy and the delete.
   */
  async migrateKeys(request: { slot: number; target: string; count: number; name?: string } & Omit<BatchLimits, "count">): Promise<MigrateResult | { error: string }> {
    const node = this.ensureNode(request.name);
    const target = this.env.NODE.getByName(request.target);
    const send = async (commands: Uint8Array[]) => {
      const imported = await target.importKeys(commands, request.target);
      if (imported.error !== undefined) throw new Error(imported.error);
    };
    // A callback that throws would reset the object (and drop its clients);
    // expected failures travel as values, here and over RPC.
    const outcome = await this.ctx.blockConcurrencyWhile(async () => {
      try {
        return await migrateBatch(node, request.slot, request, send);
      } catch (e) {
        return { error: `moving keys of slot ${request.slot} to ${request.target}: ${(e as Error)?.message ?? e}` };
      }
    });
    this.updateKeepAlive();
    return outcome;
  }

  /** Workers RPC from another master during a key migration: a chunk of its keys (see shared/cluster/migrate-keys.ts). */
  importKeys(commands: Uint8Array[], name?: string): { error?: string } {
    try {
      importKeys(this.ensureNode(name), commands);
      return {};
    } catch (e) {
      return { error: (e as Error)?.message ?? String(e) };
    } finally {
      this.updateKeepAlive();
    }
  }

  /** Workers RPC: the node's topology epoch, role and replication offset (the coordinator waits on it in failovers). */
  clusterStatus(name?: string): NodeClusterStatus {
    return this.ensureNode(name).cluster.status();
  }

  /**
   * A node of the default cluster that holds no topology yet (the cluster is
   * being used for the first time, or the node missed the coordinator's push)
   * asks the coordinator for it, which creates the cluster on first use.
   * Returns false when such a node still has no topology (the coordinator
   * could not be reached).
   */
  private async joinDefaultCluster(node: Node): Promise<boolean> {
    if (node.cluster.enabled || !this.env.CLUSTER) return true;
    const parsed = parseNodeName(node.host.nodeName);
    if (!parsed || parsed.cluster !== DEFAULT_CLUSTER) return true;
    try {
      const topology = await this.env.CLUSTER.getByName(DEFAULT_CLUSTER).topology();
      if (!node.cluster.enabled) node.cluster.apply(topology);
    } catch (e) {
      console.warn(`[tidekv ${node.host.nodeName}] cluster ${DEFAULT_CLUSTER} unavailable: ${(e as Error)?.message ?? e}`);
    }
    return node.cluster.enabled;
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const node = this.ensureNode();
    const connection = this.sockets.get(ws);
    if (!connection) {
      ws.close(1011, "unknown connection");
      return;
    }
    const before = Node.save(connection.client);
    node.message(connection, typeof message === "string" ? message : new Uint8Array(message));
    if (connection.isClosed) {
      this.sockets.delete(ws);
    } else if (!Node.sameSavedState(before, connection.client)) {
      ws.serializeAttachment(Node.save(connection.client));
    }
    this.updateKeepAlive();
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.dropSocket(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  override webSocketError(ws: WebSocket): void {
    this.dropSocket(ws);
  }

  override alarm(): void {
    this.ensureNode().alarm();
  }

  /**
   * Opens a WebSocket to another node: by name through its Durable Object stub
   * (internal traffic that never crosses the public worker), or by URL.
   */
  private async dial(target: string, handlers: DialHandlers): Promise<NodeSocket> {
    let response: Response;
    if (/^wss?:\/\//i.test(target)) {
      // Through a public endpoint: present the deployment's token when there is one.
      const token = this.env.TIDEKV_TOKEN;
      const headers: Record<string, string> = { Upgrade: "websocket" };
      if (token) headers.Authorization = `Bearer ${token}`;
      response = await fetch(target.replace(/^ws/i, "http"), { headers });
    } else {
      const headers = { Upgrade: "websocket", [NODE_NAME_HEADER]: target, [AUTH_HEADER]: DEFAULT_USER };
      response = await this.env.NODE.getByName(target).fetch(`https://tidekv.internal/node/${encodeURIComponent(target)}`, { headers });
    }
    const ws = response.webSocket;
    if (!ws) throw new Error(`${target} refused the link: HTTP ${response.status}`);
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    ws.accept();
    ws.addEventListener("message", (event) => {
      const data = event.data;
      handlers.onMessage(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer));
    });
    ws.addEventListener("close", (event) => handlers.onClose(event.code, event.reason));
    ws.addEventListener("error", () => handlers.onClose(1006, "error"));
    return {
      send: (bytes) => ws.send(bytes),
      close: (code, reason) => {
        try {
          ws.close(code, reason);
        } catch {
          // already closed
        }
      },
    };
  }

  private dropSocket(ws: WebSocket): void {
    const connection = this.sockets.get(ws);
    if (connection) this.ensureNode().closed(connection);
    this.sockets.delete(ws);
    this.updateKeepAlive();
  }

  /**
   * An open MULTI, WATCHed keys or half a request live only in memory, so
   * while any exists a timer keeps the object from hibernating (a Durable
   * Object with a pending timer is never hibernated).
   */
  private updateKeepAlive(): void {
    const needed = this.node?.hasTransientState ?? false;
    if (needed && !this.keepAlive) this.keepAlive = setInterval(() => this.updateKeepAlive(), 5_000);
    else if (!needed && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }
}

/**
 * The public endpoint's port a request came through: PUBLIC_PORT_HEADER, else
 * the forwarded URL's port (443 for https, 80 for http when it has none).
 * Node-to-node requests (tidekv.internal) say nothing about it.
 */
function publicPort(request: Request): number | null {
  const header = request.headers.get(PUBLIC_PORT_HEADER);
  if (header !== null && /^[0-9]{1,5}$/.test(header)) return Number(header);
  const url = new URL(request.url);
  if (url.hostname === "tidekv.internal") return null;
  if (url.port !== "") return Number(url.port);
  return url.protocol === "http:" || url.protocol === "ws:" ? 80 : 443;
}

function socketTransport(ws: WebSocket): Transport {
  return {
    send: (bytes) => ws.send(bytes),
    close: (code, reason) => ws.close(code, reason),
  };
}
