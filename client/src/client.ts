/**
 * A tidekv client over one WebSocket (`/resp` or `/node/<name>`).
 *
 *   const c = await Client.connect("ws://127.0.0.1:8787/resp", { protocol: 3 });
 *   await c.call("SET", "k", "v");                 // "OK"
 *   await c.pipeline([["INCR", "n"], ["GET", "k"]]); // [1, "v"], one frame
 *   await c.close();
 *
 * Many callers may share one client: commands are multiplexed on the socket
 * and replies matched in order. State that belongs to a connection (WATCH,
 * blocking commands, SUBSCRIBE) wants a client of its own; `multi()` sends
 * MULTI ... EXEC as one unit so it is safe on a shared client.
 *
 * Reconnection: when the socket drops, commands in flight fail with a
 * ConnectionError (they may or may not have run), the client reconnects in
 * the background with exponential backoff, and commands issued meanwhile wait
 * for it. The handshake (HELLO/AUTH, the database last SELECTed) is replayed
 * on every new socket.
 */
import type { Reply } from "../../shared/resp/index.ts";
import { Connection, argText, commandName, type Arg, type Argv } from "./connection.ts";
import { ConnectionError, RedisError, describeError } from "./errors.ts";
import { redactUrl, normalizeUrl, withToken } from "./url.ts";
import { toValue, type Value } from "./values.ts";
import { webSocketConstructor, type WebSocketConstructor } from "./websocket.ts";

export interface ReconnectOptions {
  /** First delay before reconnecting (ms). Default 50. */
  initialDelayMs?: number;
  /** Longest delay between attempts (ms). Default 2000. */
  maxDelayMs?: number;
  /** Attempts before giving up (commands waiting then fail). Default 20. */
  maxAttempts?: number;
}

export type ClientEvent =
  | { type: "connect"; url: string }
  | { type: "disconnect"; url: string; reason: string }
  | { type: "reconnecting"; url: string; attempt: number; delayMs: number; error: string };

export interface ClientOptions {
  /** RESP version: 2 (default) or 3 (`HELLO 3` on connect). */
  protocol?: 2 | 3;
  /** Access token: sent as `?token=` on the URL and as the password of AUTH / HELLO AUTH. */
  token?: string;
  /** User for AUTH (default "default"). */
  username?: string;
  /** Database to SELECT on connect. */
  db?: number;
  /** Connection name (HELLO SETNAME / CLIENT SETNAME). */
  clientName?: string;
  /** How long opening a socket may take (ms). Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Reconnection policy, or false: then a dropped socket is reopened (one
   * attempt) by the next command. The very first connection is always one attempt.
   */
  reconnect?: false | ReconnectOptions;
  /** A WebSocket implementation to use instead of the runtime's. */
  WebSocket?: WebSocketConstructor;
  /** Replies nobody waits for: RESP3 pushes, pub/sub messages, MONITOR output. */
  onPush?: (reply: Reply) => void;
  /** Connection life-cycle notifications. */
  onEvent?: (event: ClientEvent) => void;
}

/** What the single-node client and the cluster client both offer. */
export interface RedisCommands {
  /** One command; the reply as the model (`{ type, value }`), error replies included (not thrown). */
  callReply(argv: Argv): Promise<Reply>;
  /** One command; the reply as a plain value (see values.ts); an error reply throws RedisError. */
  call(...args: Arg[]): Promise<Value>;
  /** Like call() but bulk strings stay bytes. */
  callBuffer(...args: Arg[]): Promise<Value>;
  /** Many commands in one frame; replies in order, error replies as they came. */
  pipelineReply(commands: readonly Argv[]): Promise<Reply[]>;
  /** Many commands in one frame; plain values, error replies as RedisError values (not thrown). */
  pipeline(commands: readonly Argv[]): Promise<Value[]>;
  /** MULTI, the commands, EXEC as one unit: EXEC's result (null if a WATCH aborted it); errors throw. */
  multi(commands: readonly Argv[]): Promise<Value[] | null>;
  close(): Promise<void>;
}

const DEFAULT_RECONNECT: Required<ReconnectOptions> = { initialDelayMs: 50, maxDelayMs: 2000, maxAttempts: 20 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Client implements RedisCommands {
  /** The URL connected to (token included). */
  readonly url: string;
  /** The URL for messages (token redacted). */
  readonly displayUrl: string;
  private readonly options: ClientOptions;
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private closed = false;
  private everConnected = false;
  private readonly pushListeners = new Set<(reply: Reply) => void>();
  private currentProtocol: 2 | 3;
  private currentDb: number;

  constructor(url: string, options: ClientOptions = {}) {
    this.options = options;
    this.url = withToken(normalizeUrl(url), options.token);
    this.displayUrl = redactUrl(this.url);
    this.currentProtocol = options.protocol ?? 2;
    this.currentDb = options.db ?? 0;
    if (options.onPush) this.pushListeners.add(options.onPush);
  }

  /** Creates a client and opens its connection (one attempt; rejects with ConnectionError or RedisError). */
  static async connect(url: string, options: ClientOptions = {}): Promise<Client> {
    const client = new Client(url, options);
    try {
      await client.connection();
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  /** The protocol in use (follows HELLO sent through this client). */
  get protocol(): 2 | 3 {
    return this.currentProtocol;
  }

  /** The database selected (follows SELECT sent through this client). */
  get db(): number {
    return this.currentDb;
  }

  get isConnected(): boolean {
    return this.conn?.isOpen ?? false;
  }

  /** Adds a listener for unsolicited replies; returns a function that removes it. */
  onPush(listener: (reply: Reply) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Opens the connection now if it is not open (commands do this by themselves). */
  async ready(): Promise<void> {
    await this.connection();
  }

  async callReply(argv: Argv): Promise<Reply> {
    const conn = await this.connection();
    const reply = await conn.send([argv])[0];
    this.track(argv, reply);
    return reply;
  }

  async call(...args: Arg[]): Promise<Value> {
    const reply = await this.callReply(args);
    if (reply.type === "error") throw RedisError.fromReply(reply, commandName(args));
    return toValue(reply);
  }

  async callBuffer(...args: Arg[]): Promise<Value> {
    const reply = await this.callReply(args);
    if (reply.type === "error") throw RedisError.fromReply(reply, commandName(args));
    return toValue(reply, { buffers: true });
  }

  async pipelineReply(commands: readonly Argv[]): Promise<Reply[]> {
    if (commands.length === 0) return [];
    const conn = await this.connection();
    const replies = await Promise.all(conn.send(commands));
    commands.forEach((argv, i) => this.track(argv, replies[i]));
    return replies;
  }

  async pipeline(commands: readonly Argv[]): Promise<Value[]> {
    return (await this.pipelineReply(commands)).map((r) => toValue(r));
  }

  async multi(commands: readonly Argv[]): Promise<Value[] | null> {
    return execResult(await this.pipelineReply([["MULTI"], ...commands, ["EXEC"]]));
  }

  /** Closes the connection; commands in flight fail, later ones are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = null;
    conn?.close();
    if (this.connecting) await this.connecting.catch(() => undefined);
  }

  // -------------------------------------------------------------------------

  private emit(event: ClientEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a listener's problem is not ours
    }
  }

  private connection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new ConnectionError(`client for ${this.displayUrl} is closed`));
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    if (!this.connecting) {
      this.connecting = this.establish().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async establish(): Promise<Connection> {
    const policy = this.options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...this.options.reconnect };
    const attempts = !this.everConnected || policy === false ? 1 : Math.max(1, policy.maxAttempts);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1 && policy !== false) {
        const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 2));
        const delayMs = Math.round(base * (0.75 + Math.random() * 0.25));
        this.emit({ type: "reconnecting", url: this.displayUrl, attempt, delayMs, error: describeError(lastError) });
        await sleep(delayMs);
      }
      if (this.closed) throw new ConnectionError(`client for ${this.displayUrl} is closed`);
      let conn: Connection | undefined;
      try {
        const WebSocketImpl = this.options.WebSocket ?? (await webSocketConstructor());
        conn = await Connection.open(
          this.url,
          WebSocketImpl,
          this.options.connectTimeoutMs ?? 10_000,
          {
            onPush: (reply) => this.push(reply),
            onClose: (reason, byClient) => this.lost(conn, reason, byClient),
          },
          this.displayUrl,
        );
        await this.handshake(conn);
        if (this.closed) {
          conn.close();
          throw new ConnectionError(`client for ${this.displayUrl} is closed`);
        }
        this.conn = conn;
        this.everConnected = true;
        this.emit({ type: "connect", url: this.displayUrl });
        return conn;
      } catch (e) {
        conn?.close();
        if (e instanceof RedisError || this.closed) throw e; // authentication and the like: retrying will not help
        lastError = e;
      }
    }
    if (attempts > 1) {
      throw new ConnectionError(
        `could not reconnect to ${this.displayUrl} after ${attempts} attempts: ${describeError(lastError)}`,
        { cause: lastError },
      );
    }
    throw lastError;
  }

  private async handshake(conn: Connection): Promise<void> {
    const { token, clientName } = this.options;
    const username = this.options.username ?? "default";
    const commands: Arg[][] = [];
    if (this.currentProtocol === 3) {
      const hello: Arg[] = ["HELLO", "3"];
      if (token) hello.push("AUTH", username, token);
      if (clientName) hello.push("SETNAME", clientName);
      commands.push(hello);
    } else {
      if (token) commands.push(["AUTH", username, token]);
      if (clientName) commands.push(["CLIENT", "SETNAME", clientName]);
    }
    if (this.currentDb !== 0) commands.push(["SELECT", this.currentDb]);
    if (commands.length === 0) return;
    const replies = await Promise.all(conn.send(commands));
    replies.forEach((reply, i) => {
      if (reply.type === "error") {
        // Never echo the command: it may carry the token.
        throw new RedisError(reply.value, commandName(commands[i]));
      }
    });
  }

  private lost(conn: Connection | undefined, reason: string, byClient: boolean): void {
    if (!conn || this.conn !== conn) return;
    this.conn = null;
    if (byClient || this.closed) return;
    this.emit({ type: "disconnect", url: this.displayUrl, reason });
    if (this.options.reconnect !== false) this.connection().catch(() => undefined);
  }

  private push(reply: Reply): void {
    for (const listener of this.pushListeners) {
      try {
        listener(reply);
      } catch {
        // ignore listener errors
      }
    }
  }

  /** Follows connection state the handshake must restore: SELECT, HELLO, RESET. */
  private track(argv: Argv, reply: Reply): void {
    if (reply.type === "error") return;
    const name = argText(argv[0]).toLowerCase();
    if (name === "select" && argv.length === 2) {
      const db = Number(argText(argv[1]));
      if (Number.isInteger(db)) this.currentDb = db;
    } else if (name === "hello" && argv.length >= 2) {
      const proto = argText(argv[1]);
      if (proto === "2" || proto === "3") this.currentProtocol = proto === "3" ? 3 : 2;
    } else if (name === "reset") {
      this.currentDb = 0;
      this.currentProtocol = 2;
    }
  }
}

/** The result of MULTI ... EXEC sent as one pipeline. */
export function execResult(replies: readonly Reply[]): Value[] | null {
  const multi = replies[0];
  if (multi.type === "error") throw new RedisError(multi.value, "MULTI");
  const exec = replies[replies.length - 1];
  if (exec.type === "error") {
    // EXECABORT: say which queued command was refused
    const refused = replies.slice(1, -1).find((r) => r.type === "error");
    throw new RedisError(
      refused && refused.type === "error" ? `${exec.value} (${refused.value})` : exec.value,
      "EXEC",
    );
  }
  if (exec.type === "nullarray" || exec.type === "null") return null;
  const value = toValue(exec);
  return Array.isArray(value) ? value : [value];
}
