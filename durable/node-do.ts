import { DurableObject } from "cloudflare:workers";
import { Node, type SavedClient } from "../shared/engine/node.ts";
import type { Connection, Transport } from "../shared/engine/connection.ts";
import type { DialHandlers, NodeSocket } from "../shared/engine/host.ts";
import { durableSql } from "./sql.ts";

export interface Env {
  NODE: DurableObjectNamespace<NodeDO>;
}

/** Request header carrying the node's name from the worker (a DO does not otherwise know its name). */
export const NODE_NAME_HEADER = "x-tidekv-node";

/**
 * One tidekv node as a Durable Object: a thin shell that hands WebSocket
 * events and alarms to the runtime-independent Node. Client sockets use the
 * hibernation API; the small per-client state rides in the socket attachment.
 */
export class NodeDO extends DurableObject<Env> {
  private node: Node | null = null;
  private readonly sockets = new Map<WebSocket, Connection>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;

  private ensureNode(name?: string): Node {
    if (this.node) return this.node;
    const storage = this.ctx.storage;
    const nodeName = name ?? this.ctx.id.name ?? this.ctx.id.toString();
    this.node = new Node(durableSql(storage), {
      now: () => Date.now(),
      setWakeup: (at) => {
        if (at === null) void storage.deleteAlarm();
        else void storage.setAlarm(at);
      },
      runtime: "workerd",
      nodeName,
      dial: (target, handlers) => this.dial(target, handlers),
      log: (level, message) => console[level === "debug" ? "log" : level](`[tidekv ${nodeName}] ${message}`),
    });
    // Sockets that stayed open while the object hibernated come back with their saved state.
    for (const ws of this.ctx.getWebSockets()) {
      const saved = ws.deserializeAttachment() as SavedClient | null;
      if (saved) this.sockets.set(ws, this.node.resume(socketTransport(ws), saved));
    }
    return this.node;
  }

  override async fetch(request: Request): Promise<Response> {
    const node = this.ensureNode(request.headers.get(NODE_NAME_HEADER) ?? undefined);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("tidekv node: connect with a WebSocket to speak RESP\n", { status: 426 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const addr = `${request.headers.get("CF-Connecting-IP") ?? "127.0.0.1"}:${request.headers.get("x-tidekv-client-port") ?? 0}`;
    const connection = node.open(socketTransport(server), addr);
    server.serializeAttachment(Node.save(connection.client));
    this.sockets.set(server, connection);
    return new Response(null, { status: 101, webSocket: client });
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
      response = await fetch(target.replace(/^ws/i, "http"), { headers: { Upgrade: "websocket" } });
    } else {
      const headers = { Upgrade: "websocket", [NODE_NAME_HEADER]: target };
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

function socketTransport(ws: WebSocket): Transport {
  return {
    send: (bytes) => ws.send(bytes),
    close: (code, reason) => ws.close(code, reason),
  };
}
