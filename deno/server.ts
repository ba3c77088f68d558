import { Hono } from "hono";
import { Node } from "../shared/engine/node.ts";
import { authRequired, configureTokens, preAuthenticate, userForToken, type AuthTokens } from "../shared/engine/auth.ts";
import type { Connection } from "../shared/engine/connection.ts";
import { closeQuietly, DenoHost, type LogLevel } from "./host.ts";
import { openSql, type DenoSql, type SyncMode } from "./sql.ts";
import { OutputGate } from "./gate.ts";
import { DenoRouter } from "./router.ts";
import { httpApi, type HttpSettings } from "../worker/http/index.ts";

/** Node names are path segments, as in worker/app.ts: letters, digits and -_.: up to 128 characters. */
export const NODE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ServeOptions {
  port: number;
  hostname?: string;
  /** Directory of the nodes' SQLite files (`NAME.sqlite`), created if missing. */
  dataDir: string;
  /** The node `/resp` serves. */
  defaultName?: string;
  /** Makes the default node follow this master (a ws:// URL or a node name). */
  replicaof?: string;
  sync?: SyncMode;
  /** The deployment's tokens (TIDEKV_TOKEN, TIDEKV_READONLY_TOKEN), as on workerd; none: open. */
  tokens?: AuthTokens;
  /** Largest HTTP API request body in bytes (TIDEKV_HTTP_MAX_BODY, as on the worker; default 10 MB). */
  httpMaxBody?: string;
  log?: (level: LogLevel, message: string) => void;
}

interface HostedNode {
  readonly node: Node;
  readonly sql: DenoSql;
  readonly host: DenoHost;
  readonly gate: OutputGate;
  readonly sockets: Set<WebSocket>;
}

export interface DenoServer {
  readonly port: number;
  readonly hostname: string;
  readonly nodes: NodeSet;
  /** Closes every link and socket, then every database. */
  shutdown(): Promise<void>;
}

/**
 * The nodes this process serves, one SQLite file each under the data
 * directory, opened on first use (or at start for files already there, so a
 * replica reconnects and keys expire without waiting for a client: the
 * Durable Object alarm survives a restart too).
 */
export class NodeSet {
  private readonly nodes = new Map<string, HostedNode>();
  closing = false;
  readonly tokens: AuthTokens;

  constructor(
    private readonly options: ServeOptions,
    private readonly urlOf: (name: string) => string,
  ) {
    Deno.mkdirSync(options.dataDir, { recursive: true });
    this.tokens = options.tokens ?? { token: null, readonlyToken: null };
  }

  get(name: string): HostedNode {
    let hosted = this.nodes.get(name);
    if (hosted) return hosted;
    if (this.closing) throw new Error("shutting down");
    const sql = openSql(`${this.options.dataDir}/${name}.sqlite`, this.options.sync);
    const tokens = this.tokens;
    const host = new DenoHost({ nodeName: name, urlOf: this.urlOf, log: this.options.log, token: tokens.token });
    try {
      const node = new Node(sql, host);
      configureTokens(node.server, tokens);
      const sockets = new Set<WebSocket>();
      const gate = new OutputGate(sql, (e) => {
        host.log("error", `commit failed, closing every connection: ${(e as Error)?.stack ?? e}`);
        for (const ws of sockets) closeQuietly(ws, 1011, "commit failed");
      });
      host.runEvent = (fn) => gate.event(fn);
      host.onWake = () => node.alarm();
      hosted = { node, sql, host, gate, sockets };
    } catch (e) {
      host.close();
      sql.close();
      throw e;
    }
    this.nodes.set(name, hosted);
    return hosted;
  }

  /** Opens every node that has a file in the data directory. */
  openExisting(): void {
    for (const entry of Deno.readDirSync(this.options.dataDir)) {
      const name = entry.isFile && entry.name.endsWith(".sqlite") ? entry.name.slice(0, -".sqlite".length) : "";
      if (NODE_NAME.test(name)) this.get(name);
    }
  }

  close(): void {
    this.closing = true;
    for (const hosted of this.nodes.values()) {
      hosted.host.close();
      for (const ws of hosted.sockets) closeQuietly(ws, 1001, "server shutting down");
      hosted.sockets.clear();
    }
    for (const hosted of this.nodes.values()) hosted.sql.close();
    this.nodes.clear();
  }
}

type Env = { info: Deno.ServeHandlerInfo<Deno.NetAddr> };

/**
 * The worker's routes (worker/app.ts), served from this process's nodes; the
 * HTTP API (worker/http) runs its commands on the default node (router.ts).
 */
export function createApp(nodes: NodeSet, defaultName: string, localAddr: () => string, httpMaxBody?: string): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  app.get("/", (c) => c.text("tidekv: RESP over WebSocket at /resp (whole store) and /node/NAME (one node)\n"));
  app.get("/resp", (c) => accept(nodes, defaultName, c.req.raw, c.env.info, localAddr()));
  app.get("/node/:name", (c) => {
    const name = c.req.param("name");
    if (!NODE_NAME.test(name)) return c.text("invalid node name\n", 400);
    return accept(nodes, name, c.req.raw, c.env.info, localAddr());
  });
  // Everything else: the HTTP API (Upstash Redis REST compatible), as on the worker.
  const settings: HttpSettings = {
    TIDEKV_TOKEN: nodes.tokens.token ?? undefined,
    TIDEKV_READONLY_TOKEN: nodes.tokens.readonlyToken ?? undefined,
    TIDEKV_HTTP_MAX_BODY: httpMaxBody,
  };
  const router = new DenoRouter(nodes, defaultName);
  const api = httpApi(() => router);
  app.all("*", (c) => (nodes.closing ? new Response("shutting down\n", { status: 503 }) : api(c.req.raw, settings)));
  return app;
}

const UNAUTHORIZED = "WRONGPASS invalid or missing auth token";

/** `Authorization: Bearer <token>`, or `?token=`. */
function presentedToken(request: Request): string | null {
  const bearer = /^bearer\s+(.*)$/i.exec(request.headers.get("authorization")?.trim() ?? "");
  return bearer ? bearer[1].trim() : new URL(request.url).searchParams.get("token");
}

/** Upgrades a request to a RESP WebSocket on node `name`. */
function accept(nodes: NodeSet, name: string, request: Request, info: Env["info"], laddr: string): Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    return new Response("tidekv node: connect with a WebSocket to speak RESP\n", { status: 426 });
  }
  if (nodes.closing) return new Response("shutting down\n", { status: 503 });
  // A token on the upgrade (as on the worker): a wrong one is refused, a right one authenticates the
  // connection; without one the client must AUTH first.
  let user: string | null = null;
  const presented = presentedToken(request);
  if (presented !== null && authRequired(nodes.tokens)) {
    user = userForToken(nodes.tokens, presented);
    if (user === null) return Response.json({ error: UNAUTHORIZED }, { status: 401 });
  }
  const hosted = nodes.get(name);
  // The peer's address is gone once the request is upgraded: read it first.
  const addr = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  let connection: Connection | undefined;
  const guarded = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      hosted.host.log("error", `${what}: ${(e as Error)?.stack ?? e}`);
      closeQuietly(socket, 1011, "internal error");
    }
  };
  socket.onopen = () =>
    guarded("open", () => {
      if (nodes.closing) return closeQuietly(socket, 1001, "server shutting down");
      hosted.sockets.add(socket);
      connection = hosted.node.open(
        {
          send: (bytes) =>
            hosted.gate.out(() => {
              if (socket.readyState === WebSocket.OPEN) socket.send(bytes);
            }),
          close: (code, reason) => hosted.gate.out(() => closeQuietly(socket, code, reason)),
        },
        addr,
        laddr,
      );
      if (user !== null) preAuthenticate(connection.client, user);
    });
  socket.onmessage = (event) =>
    guarded("message", () => {
      if (!connection || nodes.closing) return;
      const data = event.data;
      const conn = connection;
      hosted.gate.event(() => hosted.node.message(conn, typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer)));
    });
  socket.onclose = () =>
    guarded("close", () => {
      hosted.sockets.delete(socket);
      const conn = connection;
      if (conn && !nodes.closing) hosted.gate.event(() => hosted.node.closed(conn));
    });
  return response;
}

/** Serves the nodes on `hostname:port` (port 0: any free port). */
export function serve(options: ServeOptions): DenoServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const defaultName = options.defaultName ?? "default";
  const loopback = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  let port = options.port;
  const urlOf = (name: string) => `ws://${loopback.includes(":") ? `[${loopback}]` : loopback}:${port}/node/${encodeURIComponent(name)}`;
  const nodes = new NodeSet(options, urlOf);
  const app = createApp(nodes, defaultName, () => `${loopback}:${port}`, options.httpMaxBody);
  const server = Deno.serve(
    {
      port,
      hostname,
      onListen: () => {},
      onError: (e) => {
        options.log?.("error", `request failed: ${(e as Error)?.stack ?? e}`);
        return new Response("internal error\n", { status: 500 });
      },
    },
    (request, info) => app.fetch(request, { info }),
  );
  port = server.addr.port;
  // No request is served before this returns: open the nodes, with their links and timers.
  try {
    nodes.openExisting();
    const main = nodes.get(defaultName);
    const link = main.node.replication.link;
    if (options.replicaof && !(link && link.target === options.replicaof)) main.node.replication.follow(options.replicaof, 0);
  } catch (e) {
    nodes.close();
    void server.shutdown();
    throw e;
  }
  return {
    port,
    hostname,
    nodes,
    async shutdown() {
      nodes.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([server.shutdown(), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    },
  };
}
