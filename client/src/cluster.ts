/**
 * Cluster-aware client: reads CLUSTER SLOTS, caches the slot map and sends
 * each command straight to the node that owns its key's slot, at
 * `<base>/node/<name>` (see cluster-protocol.ts for how a node's name is
 * found in the replies).
 *
 * Redirections are followed as Redis Cluster clients do:
 * - MOVED: the slot is remapped at once, the whole map refreshed in the
 *   background, and the command resent to the new owner;
 * - ASK: `ASKING` + the command, once, to the node named (the map is kept);
 * - TRYAGAIN and CLUSTERDOWN: retried after `retryDelayMs` (CLUSTERDOWN also
 *   refreshes the map);
 * - at most `maxRedirections` (16) of these per command, then ClusterError.
 * A node that cannot be reached triggers a refresh and a retry, but only when
 * the command never left the client (a write that may have run is not resent).
 */
import type { Reply } from "../../shared/resp/index.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import { Client, execResult, type ClientOptions, type RedisCommands } from "./client.ts";
import { parseClusterSlots, parseRedirect, SLOT_COUNT, nodeName, type Redirect, type SlotRange } from "./cluster-protocol.ts";
import { argText, commandName, type Arg, type Argv } from "./connection.ts";
import { ClusterError, ConnectionError, RedisError, describeError } from "./errors.ts";
import { firstKeyIndex, parseCommandInfo, type CommandKeyInfo } from "./keys.ts";
import { nodeUrl, normalizeUrl, redactUrl } from "./url.ts";
import { toValue, replyItems, type Value } from "./values.ts";

export interface ClusterClientOptions extends ClientOptions {
  /** Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, unreachable node) followed per command. Default 16. */
  maxRedirections?: number;
  /** Delay before retrying after TRYAGAIN / CLUSTERDOWN / an unreachable node (ms). Default 100. */
  retryDelayMs?: number;
  /** Where a node lives; default `<base>/node/<name>` of the seed URL. */
  nodeUrl?: (name: string) => string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const encoder = new TextEncoder();

/** The first word of an error line. */
const errorCode = (message: string): string => message.split(" ", 1)[0];

export class ClusterClient implements RedisCommands {
  readonly url: string;
  private readonly options: ClusterClientOptions;
  private readonly seed: Client;
  private readonly nodes = new Map<string, Client>();
  /** Slot -> node name. */
  private slots: (string | undefined)[] = new Array(SLOT_COUNT);
  private ranges: SlotRange[] = [];
  /** "endpoint:port" as announced -> node name. */
  private byAddress = new Map<string, string>();
  private refreshing: Promise<void> | null = null;
  private readonly infos = new Map<string, Promise<CommandKeyInfo | null>>();
  private closed = false;

  constructor(url: string, options: ClusterClientOptions = {}) {
    this.url = normalizeUrl(url);
    this.options = options;
    this.seed = new Client(this.url, options);
  }

  /** Creates a cluster client and loads the slot map (rejects when the seed cannot answer CLUSTER SLOTS). */
  static async connect(url: string, options: ClusterClientOptions = {}): Promise<ClusterClient> {
    const client = new ClusterClient(url, options);
    try {
      await client.refreshSlots();
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  private get maxRedirections(): number {
    return this.options.maxRedirections ?? 16;
  }

  private get retryDelayMs(): number {
    return this.options.retryDelayMs ?? 100;
  }

  /** The slot map as last read: ranges with their master and replicas. */
  get slotRanges(): readonly SlotRange[] {
    return this.ranges;
  }

  /** The node name that owns `slot` in the cached map. */
  ownerOf(slot: number): string | undefined {
    return this.slots[slot];
  }

  /** The client for a node by name (created on first use). */
  node(name: string): Client {
    let client = this.nodes.get(name);
    if (!client) {
      const url = this.options.nodeUrl ? this.options.nodeUrl(name) : nodeUrl(this.url, name);
      client = new Client(url, {
        ...this.options,
        // A node that is gone should fail fast: the slot map will send us elsewhere.
        reconnect: this.options.reconnect === false ? false : { maxAttempts: 2, ...this.options.reconnect },
      });
      this.nodes.set(name, client);
    }
    return client;
  }

  /** Reads CLUSTER SLOTS (from the seed, else from any known node) and replaces the cached map. */
  refreshSlots(): Promise<void> {
    this.refreshing ??= this.loadSlots().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async loadSlots(): Promise<void> {
    const sources: Client[] = [this.seed, ...this.nodes.values()];
    let lastError: unknown;
    for (const source of sources) {
      if (this.closed) break;
      try {
        const reply = await source.callReply(["CLUSTER", "SLOTS"]);
        if (reply.type === "error") throw new RedisError(reply.value, "CLUSTER SLOTS");
        this.install(parseClusterSlots(reply));
        return;
      } catch (e) {
        lastError = e;
        if (e instanceof RedisError && source === this.seed && this.nodes.size === 0) break;
      }
    }
    throw new ClusterError(
      `could not read the cluster slot map from ${redactUrl(this.url)}: ${describeError(lastError)}`,
      lastError instanceof RedisError ? lastError : undefined,
    );
  }

  private install(ranges: SlotRange[]): void {
    const slots: (string | undefined)[] = new Array(SLOT_COUNT);
    const byAddress = new Map<string, string>();
    for (const range of ranges) {
      for (let s = Math.max(0, range.start); s <= Math.min(SLOT_COUNT - 1, range.end); s++) slots[s] = range.master.name;
      for (const n of [range.master, ...range.replicas]) byAddress.set(`${n.endpoint}:${n.port}`, n.name);
    }
    this.slots = slots;
    this.byAddress = byAddress;
    this.ranges = ranges;
  }

  private commandInfo(name: string): Promise<CommandKeyInfo | null> {
    const key = name.toLowerCase();
    let info = this.infos.get(key);
    if (!info) {
      info = this.seed.callReply(["COMMAND", "INFO", key]).then(
        (reply) => {
          const entry = replyItems(reply)?.[0];
          return entry ? parseCommandInfo(entry) : null;
        },
        (e) => {
          this.infos.delete(key); // a transport failure is not an answer
          throw e;
        },
      );
      this.infos.set(key, info);
    }
    return info;
  }

  /** The hash slot a command is routed by, or undefined for keyless commands. */
  async slotOf(argv: Argv): Promise<number | undefined> {
    if (argv.length < 2) return undefined;
    const info = await this.commandInfo(argText(argv[0]));
    if (!info) return undefined;
    const index = firstKeyIndex(info, argv);
    if (index === undefined) return undefined;
    const key = argv[index];
    return keySlot(typeof key === "string" || typeof key === "number" || typeof key === "bigint" ? encoder.encode(String(key)) : key);
  }

  private async route(argv: Argv): Promise<Client> {
    const slot = await this.slotOf(argv);
    const owner = slot === undefined ? undefined : this.slots[slot];
    return owner === undefined ? this.seed : this.node(owner);
  }

  private redirectTarget(r: Redirect): string {
    return this.byAddress.get(`${r.endpoint}:${r.port}`) ?? nodeName(r.endpoint);
  }

  private backgroundRefresh(): void {
    this.refreshSlots().catch(() => undefined);
  }

  /**
   * Sends one command, following redirections. `pending` is a reply already
   * received for it (from a pipeline) to start from.
   */
  private async run(argv: Argv, pending?: Reply, from?: Client): Promise<Reply> {
    let client = from ?? (pending ? this.seed : await this.route(argv));
    let asking = false;
    let lastError: RedisError | ConnectionError | undefined;
    let reply = pending;
    for (let hops = 0; ; ) {
      if (reply === undefined) {
        try {
          reply = asking ? (await client.pipelineReply([["ASKING"], argv]))[1] : await client.callReply(argv);
        } catch (e) {
          if (!(e instanceof ConnectionError) || e.sent || this.closed) throw e;
          // The node could not be reached and the command never left: re-route.
          lastError = e;
          if (++hops > this.maxRedirections) throw this.tooMany(argv, lastError);
          await sleep(this.retryDelayMs);
          await this.refreshSlots().catch(() => undefined);
          client = await this.route(argv);
          asking = false;
          continue;
        }
      }
      asking = false;
      const current: Reply = reply;
      reply = undefined;
      if (current.type !== "error") return current;
      const redirect = parseRedirect(current.value);
      const code = errorCode(current.value);
      if (!redirect && code !== "TRYAGAIN" && code !== "CLUSTERDOWN") return current;
      lastError = new RedisError(current.value, commandName(argv));
      if (++hops > this.maxRedirections) throw this.tooMany(argv, lastError);
      if (redirect) {
        const target = this.redirectTarget(redirect);
        if (redirect.kind === "MOVED") {
          if (redirect.slot >= 0 && redirect.slot < SLOT_COUNT) this.slots[redirect.slot] = target;
          this.backgroundRefresh();
        } else {
          asking = true;
        }
        client = this.node(target);
      } else {
        await sleep(this.retryDelayMs);
        if (code === "CLUSTERDOWN") {
          await this.refreshSlots().catch(() => undefined);
          client = await this.route(argv);
        }
      }
    }
  }

  private tooMany(argv: Argv, last: Error): ClusterError {
    return new ClusterError(
      `too many cluster redirections (more than ${this.maxRedirections}) for ${commandName(argv)}; last error: ${last.message}`,
      last instanceof RedisError ? last : undefined,
    );
  }

  async callReply(argv: Argv): Promise<Reply> {
    this.checkOpen();
    return this.run(argv);
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

  /**
   * Commands grouped by node, one frame per node, replies put back in the
   * caller's order; commands that got a redirection are then followed one by one.
   */
  async pipelineReply(commands: readonly Argv[]): Promise<Reply[]> {
    this.checkOpen();
    const targets = await Promise.all(commands.map((argv) => this.route(argv)));
    const groups = new Map<Client, number[]>();
    targets.forEach((client, i) => {
      const group = groups.get(client);
      if (group) group.push(i);
      else groups.set(client, [i]);
    });
    const replies: (Reply | undefined)[] = new Array(commands.length);
    const unsent: number[] = [];
    await Promise.all(
      [...groups].map(async ([client, indexes]) => {
        try {
          const got = await client.pipelineReply(indexes.map((i) => commands[i]));
          indexes.forEach((i, j) => (replies[i] = got[j]));
        } catch (e) {
          if (!(e instanceof ConnectionError) || e.sent) throw e;
          unsent.push(...indexes);
        }
      }),
    );
    if (unsent.length > 0) {
      await this.refreshSlots().catch(() => undefined);
      for (const i of unsent) replies[i] = await this.run(commands[i]);
    }
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i]!;
      if (r.type === "error" && (parseRedirect(r.value) || ["TRYAGAIN", "CLUSTERDOWN"].includes(errorCode(r.value)))) {
        replies[i] = await this.run(commands[i], r, targets[i]);
      }
    }
    return replies as Reply[];
  }

  async pipeline(commands: readonly Argv[]): Promise<Value[]> {
    return (await this.pipelineReply(commands)).map((r) => toValue(r));
  }

  /**
   * MULTI ... EXEC on the node owning the first key (all keys must share a
   * slot, as in Redis Cluster). A redirection while queuing retries the whole
   * transaction at the node named.
   */
  async multi(commands: readonly Argv[]): Promise<Value[] | null> {
    this.checkOpen();
    let client = this.seed;
    for (const argv of commands) {
      const slot = await this.slotOf(argv);
      if (slot !== undefined) {
        const owner = this.slots[slot];
        if (owner !== undefined) client = this.node(owner);
        break;
      }
    }
    let asking = false;
    let last: RedisError | undefined;
    for (let hops = 0; hops <= this.maxRedirections; hops++) {
      const tx: Argv[] = [["MULTI"], ...commands, ["EXEC"]];
      const replies = asking ? (await client.pipelineReply([["ASKING"], ...tx])).slice(1) : await client.pipelineReply(tx);
      asking = false;
      const problem = replies.find(
        (r) => r.type === "error" && (parseRedirect(r.value) || ["TRYAGAIN", "CLUSTERDOWN"].includes(errorCode(r.value))),
      );
      if (!problem || problem.type !== "error") return execResult(replies);
      last = new RedisError(problem.value, "MULTI");
      const redirect = parseRedirect(problem.value);
      if (redirect) {
        const target = this.redirectTarget(redirect);
        if (redirect.kind === "MOVED") {
          this.slots[redirect.slot] = target;
          this.backgroundRefresh();
        } else asking = true;
        client = this.node(target);
      } else {
        await sleep(this.retryDelayMs);
        if (errorCode(problem.value) === "CLUSTERDOWN") await this.refreshSlots().catch(() => undefined);
      }
    }
    throw this.tooMany(["MULTI"], last!);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.seed.close(), ...[...this.nodes.values()].map((c) => c.close())]);
  }

  private checkOpen(): void {
    if (this.closed) throw new ConnectionError(`cluster client for ${redactUrl(this.url)} is closed`);
  }
}
