/**
 * Scripted RESP-over-WebSocket servers on loopback for client tests.
 *
 * `MockServer` accepts WebSockets on any path (`/resp`, `/node/<name>`),
 * parses requests with the project's RequestParser and answers each with
 * whatever the handler returns, encoded for the connection's protocol
 * (HELLO 3 switches it), all replies to one frame in one frame — as tidekv does.
 *
 * `MockCluster` is a handler for a small Redis Cluster made of named nodes:
 * each owns slot ranges and a key/value map, answers GET/SET/INCR/DEL/PING,
 * COMMAND INFO (with Redis 7 key specs), CLUSTER SLOTS/SHARDS/NODES/INFO and
 * ASKING, sends MOVED for slots it does not own and ASK for keys of a
 * migrating slot it no longer has. `script` hooks inject TRYAGAIN,
 * CLUSTERDOWN, drops, ...
 */
import { WebSocketServer, type WebSocket } from "ws";
import type { AddressInfo } from "node:net";
import {
  RequestParser,
  ReplyWriter,
  array,
  bulk,
  error,
  integer,
  map,
  NULL,
  OK,
  PONG,
  simple,
  type Reply,
} from "../../../shared/resp/index.ts";
import { keySlot } from "../../../shared/cluster/slot.ts";

const decoder = new TextDecoder();

export interface MockConnection {
  /** "resp" for /resp, the node name for /node/<name>, else the path. */
  readonly node: string;
  readonly path: string;
  /** The query string's token, if any. */
  readonly token: string | null;
  protocol: 2 | 3;
  asking: boolean;
  db: number;
  /** Free-form per-connection state for handlers. */
  readonly state: Record<string, unknown>;
  /** Sends a reply now, outside the request/reply flow (a push). */
  push(reply: Reply): void;
  /** Drops the connection (no close handshake). */
  drop(): void;
}

/** What a handler may return: a reply, "drop" (terminate the socket, no reply), or "ignore" (no reply). */
export type HandlerResult = Reply | "drop" | "ignore";
export type Handler = (argv: string[], conn: MockConnection) => HandlerResult | Promise<HandlerResult>;

export interface Received {
  readonly node: string;
  readonly argv: string[];
}

export class MockServer {
  readonly received: Received[] = [];
  /** Number of WebSocket messages received, per node. */
  readonly frames = new Map<string, number>();
  /** Connections accepted, per node. */
  readonly accepted = new Map<string, number>();
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    private wss: WebSocketServer,
    public port: number,
    public handler: Handler,
  ) {}

  static async start(handler: Handler, port = 0): Promise<MockServer> {
    const wss = await listen(port);
    const server = new MockServer(wss, (wss.address() as AddressInfo).port, handler);
    server.attach();
    return server;
  }

  url(path = "/resp"): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Commands received by a node (names upper-cased), excluding COMMAND INFO lookups. */
  commands(node?: string): string[][] {
    return this.received
      .filter((r) => (node === undefined || r.node === node) && !(r.argv[0]?.toUpperCase() === "COMMAND"))
      .map((r) => [r.argv[0].toUpperCase(), ...r.argv.slice(1)]);
  }

  private attach(): void {
    this.wss.on("connection", (ws, req) => {
      const url = new URL(req.url ?? "/", "ws://x");
      const m = /^\/node\/([^/]+)$/.exec(url.pathname);
      const node = m ? decodeURIComponent(m[1]) : url.pathname === "/resp" ? "resp" : url.pathname;
      this.accepted.set(node, (this.accepted.get(node) ?? 0) + 1);
      this.sockets.add(ws);
      ws.on("close", () => this.sockets.delete(ws));
      const parser = new RequestParser({ maxBulkLength: 1 << 29, maxMultibulkLength: 1 << 20 });
      const conn: MockConnection = {
        node,
        path: url.pathname,
        token: url.searchParams.get("token"),
        protocol: 2,
        asking: false,
        db: 0,
        state: {},
        push: (reply) => {
          const w = new ReplyWriter();
          w.write(reply, conn.protocol);
          ws.send(w.take());
        },
        drop: () => ws.terminate(),
      };
      let chain = Promise.resolve();
      ws.on("message", (data: Buffer) => {
        this.frames.set(node, (this.frames.get(node) ?? 0) + 1);
        parser.feed(new Uint8Array(data));
        const batch: string[][] = [];
        for (let argv = parser.next(); argv !== null; argv = parser.next()) {
          if (!Array.isArray(argv)) {
            ws.close();
            return;
          }
          batch.push(argv.map((a) => decoder.decode(a)));
        }
        chain = chain.then(async () => {
          const writer = new ReplyWriter();
          for (const argv of batch) {
            this.received.push({ node, argv });
            const result = await this.handler(argv, conn);
            if (result === "drop") {
              ws.terminate();
              return;
            }
            if (result === "ignore") continue;
            if (argv[0].toLowerCase() === "hello" && result.type !== "error" && (argv[1] === "3" || argv[1] === "2")) {
              conn.protocol = argv[1] === "3" ? 3 : 2;
            }
            writer.write(result, conn.protocol);
          }
          if (writer.length > 0 && ws.readyState === ws.OPEN) ws.send(writer.take());
        });
      });
    });
  }

  /** Terminates every open connection (the server keeps listening). */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  /** Listens again on the same port after stop(). */
  async restart(): Promise<void> {
    this.wss = await listen(this.port);
    this.attach();
  }
}

function listen(port: number): Promise<WebSocketServer> {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
    wss.once("listening", () => resolve(wss));
    wss.once("error", reject);
  });
}

// ---------------------------------------------------------------------------
// A scripted cluster

export interface MockNodeSpec {
  name: string;
  /** Inclusive ranges owned (masters). */
  slots?: [number, number][];
  /** For replicas: the master's name. */
  replicaOf?: string;
  offset?: number;
  health?: string;
  /** Announce as this IP with the name as `hostname` metadata (default: the name is the endpoint). */
  ip?: string;
}

const PORT = 6379;

export function nodeId(name: string): string {
  let h = "";
  for (let i = 0; h.length < 40; i++) h += ((name.charCodeAt(i % name.length) * 31 + i * 7) % 16).toString(16);
  return h;
}

/** A Redis 7 COMMAND INFO entry (RESP2 form) for a command whose keys start at `first` (range, or keynum). */
export function commandInfoEntry(name: string, spec: { index: number } | { keynum: number; keyword?: string } | null): Reply {
  const keySpecs: Reply[] = [];
  if (spec && "index" in spec) {
    keySpecs.push(
      array([
        bulk("flags"), array([simple("RW")]),
        bulk("begin_search"), array([bulk("type"), bulk("index"), bulk("spec"), array([bulk("index"), integer(spec.index)])]),
        bulk("find_keys"), array([bulk("type"), bulk("range"), bulk("spec"), array([bulk("lastkey"), integer(0), bulk("keystep"), integer(1), bulk("limit"), integer(0)])]),
      ]),
    );
  } else if (spec && "keyword" in spec && spec.keyword) {
    keySpecs.push(
      array([
        bulk("flags"), array([simple("RO")]),
        bulk("begin_search"), array([bulk("type"), bulk("keyword"), bulk("spec"), array([bulk("keyword"), bulk(spec.keyword), bulk("startfrom"), integer(1)])]),
        bulk("find_keys"), array([bulk("type"), bulk("range"), bulk("spec"), array([bulk("lastkey"), integer(-1), bulk("keystep"), integer(1), bulk("limit"), integer(2)])]),
      ]),
    );
  } else if (spec && "keynum" in spec) {
    keySpecs.push(
      array([
        bulk("flags"), array([simple("RW")]),
        bulk("begin_search"), array([bulk("type"), bulk("index"), bulk("spec"), array([bulk("index"), integer(spec.keynum)])]),
        bulk("find_keys"), array([bulk("type"), bulk("keynum"), bulk("spec"), array([bulk("keynumidx"), integer(0), bulk("firstkey"), integer(1), bulk("keystep"), integer(1)])]),
      ]),
    );
  }
  const first = spec && "index" in spec ? spec.index : 0;
  return array([
    bulk(name), integer(-2), array([simple("write")]), integer(first), integer(first ? 1 : 0), integer(first ? 1 : 0),
    array([]), array([]), array(keySpecs), array([]),
  ]);
}

const KEYED: Record<string, { index: number } | { keynum: number } | { keynum: 0; keyword: string }> = {
  get: { index: 1 },
  set: { index: 1 },
  incr: { index: 1 },
  del: { index: 1 },
  exists: { index: 1 },
  eval: { keynum: 2 },
  xread: { keynum: 0, keyword: "STREAMS" },
};

export class MockCluster {
  readonly nodes: MockNodeSpec[];
  readonly data = new Map<string, Map<string, string>>();
  /** slot -> node name the slot is migrating to (set on the source). */
  readonly migrating = new Map<number, string>();
  /** Runs first; a non-undefined result is the reply. */
  script: ((node: string, argv: string[], conn: MockConnection) => HandlerResult | undefined) | null = null;
  /** Nodes whose CLUSTER SLOTS view differs (for check tests): node -> ranges override. */
  readonly views = new Map<string, MockNodeSpec[]>();
  clusterState = "ok";

  constructor(nodes: MockNodeSpec[]) {
    this.nodes = nodes;
    for (const n of nodes) this.data.set(n.name, new Map());
  }

  spec(name: string): MockNodeSpec | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /** The master owning a slot. */
  owner(slot: number, nodes = this.nodes): MockNodeSpec | undefined {
    return nodes.find((n) => n.slots?.some(([s, e]) => slot >= s && slot <= e));
  }

  /** Moves a slot range to another master (the data stays where it is). */
  assign(slot: number, to: string): void {
    for (const n of this.nodes) {
      if (!n.slots) continue;
      const next: [number, number][] = [];
      for (const [s, e] of n.slots) {
        if (slot < s || slot > e) next.push([s, e]);
        else {
          if (s < slot) next.push([s, slot - 1]);
          if (slot < e) next.push([slot + 1, e]);
        }
      }
      n.slots = next;
    }
    const target = this.spec(to)!;
    target.slots = [...(target.slots ?? []), [slot, slot]];
  }

  address(n: MockNodeSpec): string {
    return `${n.ip ?? n.name}:${PORT}`;
  }

  private nodeEntry(n: MockNodeSpec): Reply {
    const meta = n.ip ? [bulk("hostname"), bulk(n.name)] : [];
    return array([bulk(n.ip ?? n.name), integer(PORT), bulk(nodeId(n.name)), array(meta)]);
  }

  slotsReply(nodes = this.nodes): Reply {
    const out: Reply[] = [];
    for (const m of nodes.filter((n) => n.slots)) {
      const replicas = nodes.filter((r) => r.replicaOf === m.name);
      for (const [s, e] of m.slots!) out.push(array([integer(s), integer(e), this.nodeEntry(m), ...replicas.map((r) => this.nodeEntry(r))]));
    }
    out.sort((a, b) => Number((a as any).value[0].value) - Number((b as any).value[0].value));
    return array(out);
  }

  shardsReply(protocol: 2 | 3): Reply {
    const record = (pairs: [string, Reply][]): Reply =>
      protocol === 3 ? map(pairs.map(([k, v]) => [bulk(k), v] as const)) : array(pairs.flatMap(([k, v]) => [bulk(k), v]));
    return array(
      this.nodes
        .filter((n) => n.slots)
        .map((m) =>
          record([
            ["slots", array(m.slots!.flatMap(([s, e]) => [integer(s), integer(e)]))],
            [
              "nodes",
              array(
                [m, ...this.nodes.filter((r) => r.replicaOf === m.name)].map((n) =>
                  record([
                    ["id", bulk(nodeId(n.name))],
                    ["port", integer(PORT)],
                    ["ip", bulk(n.ip ?? "10.9.9.9")],
                    ["endpoint", bulk(n.ip ?? n.name)],
                    ...(n.ip ? ([["hostname", bulk(n.name)]] as [string, Reply][]) : []),
                    ["role", bulk(n.replicaOf ? "replica" : "master")],
                    ["replication-offset", integer(n.offset ?? 1000)],
                    ["health", bulk(n.health ?? "online")],
                  ]),
                ),
              ),
            ],
          ]),
        ),
    );
  }

  nodesText(self: string): string {
    return (
      this.nodes
        .map((n) => {
          const flags = [n.name === self ? "myself" : "", n.replicaOf ? "slave" : "master", n.health === "fail" ? "fail" : ""].filter(Boolean).join(",");
          const master = n.replicaOf ? nodeId(n.replicaOf) : "-";
          const slots = (n.slots ?? []).map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`));
          if (n.name === self) for (const [slot, to] of this.migrating) slots.push(`[${slot}->-${nodeId(to)}]`);
          const addr = `${n.ip ?? n.name}:${PORT}@${PORT + 10000}${n.ip ? `,${n.name}` : ""}`;
          return [nodeId(n.name), addr, flags, master, "0", "0", "1", "connected", ...slots].join(" ");
        })
        .join("\n") + "\n"
    );
  }

  infoText(): string {
    const assigned = this.nodes.reduce((n, x) => n + (x.slots ?? []).reduce((m, [s, e]) => m + e - s + 1, 0), 0);
    return [
      `cluster_state:${this.clusterState}`,
      `cluster_slots_assigned:${assigned}`,
      `cluster_slots_ok:${assigned}`,
      "cluster_slots_pfail:0",
      "cluster_slots_fail:0",
      `cluster_known_nodes:${this.nodes.length}`,
      `cluster_size:${this.nodes.filter((n) => n.slots).length}`,
      "cluster_current_epoch:6",
      "",
    ].join("\r\n");
  }

  /** The handler to give MockServer.start(). */
  handler: Handler = (argv, conn) => {
    const scripted = this.script?.(conn.node, argv, conn);
    if (scripted !== undefined) return scripted;
    const name = argv[0].toLowerCase();
    const self = conn.node === "resp" ? this.nodes[0].name : conn.node;
    const asking = conn.asking;
    conn.asking = false;
    switch (name) {
      case "ping":
        return PONG;
      case "info":
        return bulk("# Server\r\nredis_version:7.0.15\r\nloading:0\r\n");
      case "hello":
        return conn.protocol === 3 || argv[1] === "3" ? map([[bulk("proto"), integer(3)]]) : array([bulk("proto"), integer(2)]);
      case "auth":
        return OK;
      case "select":
        conn.db = Number(argv[1]);
        return OK;
      case "asking":
        conn.asking = true;
        return OK;
      case "command":
        if (argv[1]?.toLowerCase() === "info") {
          return array(argv.slice(2).map((c) => (KEYED[c.toLowerCase()] ? commandInfoEntry(c.toLowerCase(), KEYED[c.toLowerCase()]) : NULL)));
        }
        return error("ERR unsupported by the mock");
      case "cluster": {
        const sub = argv[1]?.toLowerCase();
        if (sub === "slots") return this.slotsReply(this.views.get(self) ?? this.nodes);
        if (sub === "shards") return this.shardsReply(conn.protocol);
        if (sub === "nodes") return bulk(this.nodesText(self));
        if (sub === "info") return bulk(this.infoText());
        return error(`ERR unknown subcommand '${argv[1]}'`);
      }
      case "get":
      case "set":
      case "incr":
      case "del":
      case "exists": {
        const key = argv[1];
        const slot = keySlot(new TextEncoder().encode(key));
        const owner = this.owner(slot);
        const store = this.data.get(self)!;
        if (!owner) return error("CLUSTERDOWN Hash slot not served");
        if (owner.name !== self) {
          // Importing side of a migration accepts ASKING.
          const migratingTo = this.migrating.get(slot);
          if (!(asking && migratingTo === self)) return error(`MOVED ${slot} ${this.address(owner)}`);
        } else if (this.migrating.has(slot) && !store.has(key)) {
          return error(`ASK ${slot} ${this.address(this.spec(this.migrating.get(slot)!)!)}`);
        }
        if (name === "get") return store.has(key) ? bulk(store.get(key)!) : NULL;
        if (name === "exists") return integer(store.has(key) ? 1 : 0);
        if (name === "set") {
          store.set(key, argv[2]);
          return OK;
        }
        if (name === "del") return integer(store.delete(key) ? 1 : 0);
        const n = Number(store.get(key) ?? "0") + 1;
        store.set(key, String(n));
        return integer(n);
      }
      default:
        return error(`ERR unknown command '${argv[0]}', with args beginning with: `);
    }
  };
}
