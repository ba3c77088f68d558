/**
 * `tidekv bridge`: a local TCP server speaking RESP, so stock Redis tools
 * (redis-cli, redis-benchmark, ioredis, node-redis) work against tidekv.
 *
 * Each TCP connection gets its own WebSocket, and bytes flow both ways as
 * they are: connection state (SELECT, MULTI, WATCH, subscriptions, blocking
 * commands) lives on that one server-side connection, as with Redis.
 *
 * With `cluster`, the bridge also opens one local port per cluster node
 * (`<base>/node/<name>`), and rewrites node addresses in CLUSTER
 * SLOTS/SHARDS/NODES/REPLICAS replies and in MOVED/ASK errors to those ports
 * (see rewrite.ts), so cluster clients follow redirections through it.
 */
import { createServer, type Server, type Socket } from "node:net";
import WebSocket from "ws";
import { ReplyParser, encodeCommand } from "../../shared/resp/index.ts";
import { Client } from "../src/client.ts";
import { nodeName, parseClusterSlots } from "../src/cluster-protocol.ts";
import { describeError, RedisError } from "../src/errors.ts";
import { nodeUrl, normalizeUrl, redactUrl, withToken } from "../src/url.ts";
import { CliError } from "./errors.ts";
import { ReplyRewriter, type PortOf } from "./rewrite.ts";

export interface BridgeOptions {
  /** Local port for --url (0: any free port). */
  listen: number;
  /** Local address (default 127.0.0.1). */
  host?: string;
  url: string;
  token?: string;
  /** One port per cluster node, with address rewriting. */
  cluster?: boolean;
  /** First port tried for cluster nodes (default listen + 1). */
  nodePortBase?: number;
  /** Progress and problems, one line each. */
  log?: (line: string) => void;
}

/** Stop reading from the TCP side while this much is waiting to go out on the WebSocket. */
const HIGH_WATER = 8 * 1024 * 1024;

interface Listener {
  readonly name: string | null;
  readonly url: string;
  server: Server;
  port: number;
}

export class Bridge {
  private readonly host: string;
  private readonly url: string;
  private readonly listeners: Listener[] = [];
  private readonly nodePorts = new Map<string, number>();
  private nextPort: number;
  private readonly sockets = new Set<Socket>();
  private readonly webSockets = new Set<WebSocket>();
  private readonly log: (line: string) => void;

  constructor(private readonly options: BridgeOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.url = normalizeUrl(options.url);
    this.nextPort = options.nodePortBase ?? (options.listen ? options.listen + 1 : 0);
    this.log = options.log ?? (() => undefined);
  }

  /** The port serving --url. */
  get port(): number {
    return this.listeners[0]?.port ?? 0;
  }

  /** Node name -> local port (cluster mode). */
  get nodes(): ReadonlyMap<string, number> {
    return this.nodePorts;
  }

  async start(): Promise<void> {
    const names = this.options.cluster ? await this.discover() : [];
    const main = await this.listen(null, this.url, this.options.listen);
    this.log(`tidekv bridge: ${this.host}:${main.port} -> ${redactUrl(this.url)}`);
    if (!this.options.cluster) return;
    if (!this.nextPort) this.nextPort = main.port + 1;
    for (const name of names) await this.ensureNode(name);
  }

  /** Node names from CLUSTER SLOTS on --url: masters and replicas, in slot order. */
  private async discover(): Promise<string[]> {
    const client = new Client(this.url, { token: this.options.token, reconnect: false });
    try {
      const reply = await client.callReply(["CLUSTER", "SLOTS"]);
      if (reply.type === "error") throw new RedisError(reply.value, "CLUSTER SLOTS");
      const names: string[] = [];
      for (const range of parseClusterSlots(reply)) {
        for (const node of [range.master, ...range.replicas]) {
          this.announced.set(`${node.endpoint}:${node.port}`, node.name);
          if (!names.includes(node.name)) names.push(node.name);
        }
      }
      return names;
    } catch (e) {
      throw new CliError(`bridge --cluster: could not read CLUSTER SLOTS from ${redactUrl(this.url)}: ${describeError(e)}`);
    } finally {
      await client.close();
    }
  }

  /** The local port of a node, listening on it first if it is new (startup). */
  private async ensureNode(name: string): Promise<number> {
    const known = this.nodePorts.get(name);
    if (known !== undefined) return known;
    for (let attempt = 0; ; attempt++) {
      const port = this.nextPort ? this.nextPort++ : 0;
      try {
        const l = await this.listen(name, nodeUrl(this.url, name), port);
        this.nodePorts.set(name, l.port);
        this.log(`  node ${name}: ${this.host}:${l.port} -> ${redactUrl(l.url)}`);
        return l.port;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt > 100 || port === 0) throw e;
      }
    }
  }

  /** "endpoint:port" as the cluster announces a node -> its name. */
  private readonly announced = new Map<string, string>();

  /**
   * The local port for a node met in a reply (synchronous: the reply is being
   * rewritten now). A new node gets the next port; its listener starts at once.
   */
  private portOf: PortOf = ({ name, endpoint, port: announcedPort }) => {
    const address = `${endpoint}:${announcedPort}`;
    if (name) this.announced.set(address, name);
    const node = name ?? this.announced.get(address) ?? nodeName(endpoint);
    const known = this.nodePorts.get(node);
    if (known !== undefined) return known;
    const port = this.nextPort++;
    this.nodePorts.set(node, port);
    this.listen(node, nodeUrl(this.url, node), port).then(
      (l) => this.log(`  node ${node}: ${this.host}:${l.port} -> ${redactUrl(l.url)}`),
      (e) => this.log(`bridge: could not listen on ${this.host}:${port} for node ${node}: ${describeError(e)}`),
    );
    return port;
  };

  private listen(name: string | null, url: string, port: number): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket, url));
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        server.on("error", (e) => this.log(`bridge: ${describeError(e)}`));
        const address = server.address();
        const l: Listener = { name, url, server, port: typeof address === "object" && address ? address.port : port };
        this.listeners.push(l);
        resolve(l);
      });
    });
  }

  private accept(socket: Socket, url: string): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const rewriter = this.options.cluster ? new ReplyRewriter(this.portOf, this.host) : null;
    const ws = new WebSocket(withToken(url, this.options.token), { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    this.webSockets.add(ws);
    const early: Buffer[] = [];
    let ready = false;
    let outstanding = 0;
    let paused = false;

    const finish = () => {
      this.sockets.delete(socket);
      this.webSockets.delete(ws);
      if (!socket.destroyed) socket.end();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    };

    const forward = (chunk: Buffer) => {
      rewriter?.request(chunk);
      outstanding += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        outstanding -= chunk.length;
        if (paused && outstanding < HIGH_WATER / 2) {
          paused = false;
          socket.resume();
        }
      });
      if (!paused && outstanding >= HIGH_WATER) {
        paused = true;
        socket.pause();
      }
    };

    socket.on("data", (chunk: Buffer) => {
      if (ready) forward(chunk);
      else early.push(chunk);
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", () => finish());

    const deliver = (data: Buffer) => {
      let out: Uint8Array = data;
      if (rewriter) {
        try {
          out = rewriter.reply(data);
        } catch (e) {
          this.log(`bridge: unreadable reply from ${redactUrl(url)}: ${describeError(e)}`);
          socket.destroy();
          return;
        }
      }
      if (out.length > 0 && !socket.write(out)) {
        ws.pause();
        socket.once("drain", () => ws.resume());
      }
    };

    let auth: ReplyParser | null = null;
    ws.on("open", () => {
      if (this.options.token) {
        // Authenticate in-band too, before any of the client's bytes.
        auth = new ReplyParser();
        ws.send(encodeCommand(["AUTH", "default", this.options.token]));
        return;
      }
      ready = true;
      for (const chunk of early.splice(0)) forward(chunk);
    });
    ws.on("message", (data: Buffer) => {
      if (auth) {
        auth.feed(data);
        const reply = auth.next();
        if (reply === undefined) return;
        auth = null;
        if (reply.type === "error") {
          this.log(`bridge: authentication to ${redactUrl(url)} failed: ${reply.value}`);
          socket.destroy();
          return;
        }
        ready = true;
        for (const chunk of early.splice(0)) forward(chunk);
        return;
      }
      deliver(data);
    });
    ws.on("error", (e) => {
      this.log(`bridge: ${redactUrl(url)}: ${describeError(e)}`);
      socket.destroy();
    });
    ws.on("close", () => {
      if (!socket.destroyed) socket.end();
      this.sockets.delete(socket);
      this.webSockets.delete(ws);
    });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    for (const ws of this.webSockets) ws.terminate();
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
  }
}
