import type { Client } from "../engine/client.ts";
import type { NodeSocket } from "../engine/host.ts";
import type { Server } from "../engine/server.ts";
import { Blocked } from "../engine/blocking.ts";
import { encodeCommand } from "../resp/encode.ts";
import { RequestParser, ProtocolError } from "../resp/request-parser.ts";
import { concat } from "../util/bytes.ts";
import type { Backlog } from "./backlog.ts";
import { SNAPSHOT_END, STAGING_DB_BASE } from "./snapshot.ts";
import { NULL_REPLID, type ReplicationState } from "./state.ts";

const decoder = new TextDecoder();

/** Redis's repl_state names as ROLE and INFO show them. */
export type LinkState = "connect" | "connecting" | "handshake" | "sync" | "connected";

/** What the replica side needs from the rest of replication. */
export interface ReplicaHooks {
  /** Stream bytes applied here, to pass on to this node's own replicas (chained replication). */
  relay(bytes: Uint8Array): void;
  /** This node's history changed (full sync): its own replicas must resync. */
  historyReplaced(): void;
  readonly nodeName: string;
}

/**
 * The replica side of replication (Redis's replication.c "replica side"):
 * one link to the master: dial, handshake (PING, AUTH, REPLCONF, PSYNC),
 * snapshot loading into hidden dbs with an atomic switch, then the stream,
 * applied command by command with the offset and the relayed bytes committed
 * in the same transaction as the data.
 */
export class MasterLink {
  state: LinkState = "connect";
  private socket: NodeSocket | null = null;
  /** Handshake replies are single lines; collected here until PSYNC is answered. */
  private lineBuffer = new Uint8Array(0);
  private pending: ((line: string) => void)[] = [];
  private parser: RequestParser | null = null;
  /** Set while a full sync is loading: the master's replid and offset to adopt at the end. */
  private loading: { replid: string; offset: number; bytes: number } | null = null;
  private readonly client: Client;
  lastIoAt = 0;
  downSince: number;
  private attempts = 0;
  private nextAttemptAt = 0;
  private closedByUs = false;
  /** The master's announced replid while syncing (for INFO). */
  syncBytes = 0;

  constructor(
    private readonly server: Server,
    private readonly ids: ReplicationState,
    private readonly backlog: Backlog,
    readonly target: string,
    readonly port: number,
    private readonly hooks: ReplicaHooks,
  ) {
    this.client = server.createClient(`${target}:${port}`, "0.0.0.0:0");
    this.client.role = "master";
    this.client.name = null;
    this.downSince = server.host.now();
  }

  get isUp(): boolean {
    return this.state === "connected";
  }

  get isLoading(): boolean {
    return this.loading !== null;
  }

  /** Once a second: connect when due, acknowledge, and time out a silent master. */
  cron(now: number): void {
    if (this.state === "connect" && now >= this.nextAttemptAt) {
      void this.connect();
      return;
    }
    if (this.state === "connected") {
      this.sendAck();
      if (now - this.lastIoAt > this.server.config.int("repl-timeout") * 1000) this.drop("master timed out");
    } else if ((this.state === "handshake" || this.state === "sync" || this.state === "connecting") && now - this.lastIoAt > this.server.config.int("repl-timeout") * 1000) {
      this.drop("handshake timed out");
    }
  }

  /** Stops following the master. */
  stop(): void {
    this.closedByUs = true;
    this.abortLoading();
    this.socket?.close(1000, "replication stopped");
    this.socket = null;
    this.server.removeClient(this.client);
  }

  // ---- connection and handshake ---------------------------------------------------

  private async connect(): Promise<void> {
    const dial = this.server.host.dial;
    if (!dial) {
      this.server.host.log?.("error", "this host cannot open node-to-node links");
      this.retryLater();
      return;
    }
    this.state = "connecting";
    this.lastIoAt = this.server.host.now();
    try {
      const socket = await dial(this.target, {
        onMessage: (bytes) => this.receive(bytes),
        onClose: (code, reason) => {
          if (this.socket === socket) this.lost(`link closed (${code} ${reason})`);
        },
      });
      if (this.closedByUs) {
        socket.close(1000, "replication stopped");
        return;
      }
      this.socket = socket;
      this.state = "handshake";
      await this.handshake();
    } catch (e) {
      this.server.host.log?.("warn", `replication link to ${this.target} failed: ${(e as Error)?.message ?? e}`);
      // drop, not lost: a link that failed its handshake must not stay open on the master.
      this.drop("connect failed");
    }
  }

  private async handshake(): Promise<void> {
    const ask = (argv: string[]) =>
      new Promise<string>((resolve) => {
        this.pending.push(resolve);
        this.socket?.send(encodeCommand(argv));
      });
    let reply = await ask(["PING"]);
    if (reply.startsWith("-") && !reply.startsWith("-NOAUTH")) throw new Error(`PING: ${reply}`);
    const masterauth = this.server.config.get("masterauth");
    if (masterauth) {
      const user = this.server.config.get("masteruser");
      reply = await ask(user ? ["AUTH", user, masterauth] : ["AUTH", masterauth]);
      if (reply.startsWith("-")) throw new Error(`AUTH: ${reply}`);
    }
    reply = await ask(["REPLCONF", "listening-port", "0"]);
    reply = await ask(["REPLCONF", "ip-address", this.hooks.nodeName]);
    if (reply.startsWith("-")) throw new Error(reply.slice(1));
    await ask(["REPLCONF", "capa", "eof", "capa", "psync2"]);
    // Ask to continue our own history: after a failover the new master still
    // knows it as its replid2 and answers +CONTINUE.
    const offset = this.backlog.masterOffset;
    const replid = this.ids.get("synced") === "1" ? this.ids.replid : "?";
    reply = await ask(["PSYNC", replid, replid === "?" ? "-1" : String(offset + 1)]);
    this.onPsyncReply(reply);
  }

  private onPsyncReply(reply: string): void {
    if (reply.startsWith("+FULLRESYNC")) {
      const [, replid, offset] = reply.split(" ");
      this.loading = { replid, offset: Number(offset), bytes: 0 };
      this.state = "sync";
      this.client.db = STAGING_DB_BASE;
      this.server.sql.transaction(() => this.server.keyspace.clearHidden());
      this.startStream();
    } else if (reply.startsWith("+CONTINUE")) {
      const newId = reply.split(" ")[1];
      if (newId && newId !== this.ids.replid) {
        // The master's history moved on under a new id (it was promoted): keep ours as replid2.
        this.server.sql.transaction(() => {
          this.ids.replid2 = this.ids.replid;
          this.ids.secondOffset = this.backlog.masterOffset + 1;
          this.ids.replid = newId;
        });
        this.hooks.historyReplaced();
      }
      this.connected();
      this.startStream();
    } else {
      throw new Error(`PSYNC: ${reply}`);
    }
  }

  private connected(): void {
    this.state = "connected";
    this.attempts = 0;
    // The stream continues in the db it last selected (a SELECT comes first after a full sync).
    this.client.db = Math.max(0, this.ids.streamDb);
    this.sendAck();
  }

  private startStream(): void {
    this.parser = new RequestParser({ maxBulkLength: 1024 * 1024 * 1024, maxMultibulkLength: 1024 * 1024 * 1024 });
    const rest = this.lineBuffer;
    this.lineBuffer = new Uint8Array(0);
    if (rest.length > 0) this.receiveStream(rest);
  }

  // ---- incoming bytes ---------------------------------------------------------------

  private receive(bytes: Uint8Array): void {
    this.lastIoAt = this.server.host.now();
    if (this.parser) {
      this.receiveStream(bytes);
      return;
    }
    const joined = new Uint8Array(this.lineBuffer.length + bytes.length);
    joined.set(this.lineBuffer);
    joined.set(bytes, this.lineBuffer.length);
    this.lineBuffer = joined;
    while (!this.parser && this.pending.length > 0) {
      const end = indexOfCrlf(this.lineBuffer);
      if (end === -1) return;
      const line = decoder.decode(this.lineBuffer.subarray(0, end));
      this.lineBuffer = this.lineBuffer.slice(end + 2);
      const waiter = this.pending.shift()!;
      try {
        waiter(line);
      } catch (e) {
        this.server.host.log?.("warn", `replication handshake: ${(e as Error).message}`);
        this.drop("handshake failed");
        return;
      }
    }
  }

  private receiveStream(bytes: Uint8Array): void {
    const parser = this.parser!;
    parser.feed(bytes);
    try {
      if (this.loading) {
        this.loadSnapshot(parser);
        if (this.loading) return;
      }
      this.applyStream(parser);
    } catch (e) {
      // Nothing of the failed batch was committed: reconnect and resume from
      // the last committed offset (or sync again from scratch).
      this.server.host.log?.("error", `replication stream from ${this.target}: ${(e as Error)?.message ?? e}`);
      this.drop("stream error");
    }
  }

  /** Applies snapshot commands into the hidden dbs; switches them in at the end marker. */
  private loadSnapshot(parser: RequestParser): void {
    const loading = this.loading!;
    this.server.sql.transaction(() => {
      for (;;) {
        const argv = parser.next();
        if (argv === null) break;
        if (argv instanceof ProtocolError) throw new Error(`snapshot: ${argv.message}`);
        const name = decoder.decode(argv[0]).toUpperCase();
        if (name === SNAPSHOT_END) {
          this.finishLoading(loading);
          return;
        }
        if (name === "SELECT") {
          this.client.db = STAGING_DB_BASE + Number(decoder.decode(argv[1]));
          continue;
        }
        this.execute(argv);
      }
    });
    this.syncBytes = parser.buffered;
    // One piece applied: ask for the next (the master keeps a small window in flight).
    if (this.loading) this.socket?.send(encodeCommand(["REPLCONF", "SNAPSHOT-ACK"]));
  }

  private finishLoading(loading: { replid: string; offset: number }): void {
    this.server.keyspace.replaceWithHidden();
    this.ids.replid = loading.replid;
    this.ids.replid2 = NULL_REPLID;
    this.ids.secondOffset = -1;
    this.ids.streamDb = -1;
    this.ids.put("synced", "1");
    this.backlog.rebase(loading.offset);
    this.backlog.activate();
    this.loading = null;
    this.server.touchAllWatchedKeys();
    this.hooks.historyReplaced();
    this.client.db = 0;
    this.connected();
  }

  private abortLoading(): void {
    if (!this.loading) return;
    this.loading = null;
    this.server.sql.transaction(() => this.server.keyspace.clearHidden());
  }

  /**
   * Applies complete stream commands: each runs as the master's client, the
   * offset advances by its bytes, and the bytes are relayed to this node's own
   * replicas; data, offset and relay commit together.
   */
  private applyStream(parser: RequestParser): void {
    let ackRequested = false;
    this.server.sql.transaction(() => {
      const relayed: Uint8Array[] = [];
      for (;;) {
        const before = parser.buffered;
        const argv = parser.next();
        if (argv === null) break;
        if (argv instanceof ProtocolError) throw new Error(`stream: ${argv.message}`);
        const raw = encodeCommand(argv);
        if (before - parser.buffered !== raw.length) {
          // The master's bytes are canonical RESP; anything else cannot be relayed exactly.
          throw new Error("non-canonical replication stream");
        }
        const name = decoder.decode(argv[0]).toLowerCase();
        if (name === "replconf" && argv.length >= 2 && decoder.decode(argv[1]).toLowerCase() === "getack") {
          ackRequested = true;
        } else {
          this.execute(argv);
          if (name === "select") this.ids.streamDb = this.client.db;
        }
        relayed.push(raw);
      }
      if (relayed.length > 0) this.hooks.relay(concat(relayed));
    });
    if (ackRequested) this.sendAck();
  }

  private execute(argv: Uint8Array[]): void {
    const reply = this.server.execute(this.client, argv);
    if (reply instanceof Blocked) return; // a blocking command from a master never blocks
    if (reply.type === "error") {
      this.server.host.log?.("warn", `replicated command failed: ${decoder.decode(argv[0])}: ${reply.value}`);
    }
  }

  private sendAck(): void {
    if (this.state !== "connected") return;
    this.socket?.send(encodeCommand(["REPLCONF", "ACK", String(this.backlog.masterOffset)]));
  }

  // ---- failures -----------------------------------------------------------------------

  /** Closes the link and retries later. */
  drop(reason: string): void {
    const socket = this.socket;
    this.lost(reason);
    socket?.close(1000, reason);
  }

  private lost(reason: string): void {
    if (this.state === "connect") return;
    this.server.host.log?.("info", `replication link to ${this.target} lost: ${reason}`);
    this.socket = null;
    this.parser = null;
    this.pending = [];
    this.lineBuffer = new Uint8Array(0);
    this.abortLoading();
    if (this.state === "connected") this.downSince = this.server.host.now();
    this.state = "connect";
    this.retryLater();
  }

  private retryLater(): void {
    this.state = "connect";
    this.attempts++;
    const delay = Math.min(1000 * 2 ** Math.min(this.attempts - 1, 4), 10_000);
    this.nextAttemptAt = this.server.host.now() + delay;
  }
}

function indexOfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  return -1;
}

