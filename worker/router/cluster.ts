/**
 * The cluster Router: runs a client's commands against the whole cluster,
 * each on the master (or, for reads with READONLY, a fresh-enough replica)
 * owning its keys' hash slot. See docs/proxy.md for the rules a client sees.
 *
 * A Session holds one WebSocket per node it talks to (opened lazily through
 * the node's Durable Object stub), so per-connection state (MULTI, WATCH,
 * blocked commands, HELLO) lives on the node as it would for a direct
 * client. Commands are dispatched as they arrive: all those of one burst
 * (one incoming frame) go out as one frame per node, in parallel, and
 * replies are delivered in the order the commands were sent.
 */
import { commandTable } from "../../shared/commands/index.ts";
import { keyPositions } from "../../shared/commands/keys.ts";
import type { Command } from "../../shared/commands/spec.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import type { ClusterNode } from "../../shared/cluster/topology.ts";
import { encodeCommand, ReplyParser } from "../../shared/resp/index.ts";
import {
  array,
  bulk,
  error,
  integer,
  NULL_ARRAY,
  OK,
  PONG,
  QUEUED,
  simple,
  type Reply,
} from "../../shared/resp/reply.ts";
import { decodeSyncToken, encodeSyncToken, mergePosition, type ShardPosition } from "./sync-token.ts";
import type { ClusterView, TopologySource } from "./topology-source.ts";
import type { Router, Session, SessionOptions } from "./types.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Redirections (MOVED/ASK) one command may follow before the client gets an error. */
export const MAX_REDIRECTS = 5;
/** SCAN's composite cursor: node cursor * SCAN_SHARDS + shard index. */
const SCAN_SHARDS = 1024n;
const MAX_UINT64 = (1n << 64n) - 1n;

export const Messages = {
  crossSlot: "CROSSSLOT Keys in request don't hash to the same slot",
  unserved: "CLUSTERDOWN Hash slot not served",
  noNodes: "CLUSTERDOWN The cluster is down",
  notInMulti: "ERR Command not allowed inside a transaction",
  multiNested: "ERR MULTI calls can not be nested",
  execWithoutMulti: "ERR EXEC without MULTI",
  discardWithoutMulti: "ERR DISCARD without MULTI",
  watchInMulti: "ERR WATCH inside MULTI is not allowed",
  execAbort: "EXECABORT Transaction discarded because of previous errors.",
  lost: (node: string) => `ERR tidekv proxy: lost the connection to node ${node}`,
  unreachable: (node: string, why: string) => `ERR tidekv proxy: cannot reach node ${node}: ${why}`,
  tooManyRedirects: (last: string) => `TRYAGAIN tidekv proxy: too many cluster redirections (last: ${last})`,
  noPerm: (command: string) => `NOPERM this user has no permissions to run the '${command}' command`,
} as const;

/** Commands that wait (the client's later commands wait behind them, as in Redis). */
const EXTRA_BLOCKING = new Set(["wait", "waitaof"]);
/** Commands a client in MULTI runs at once (Redis's processCommand list). */
const RUN_IN_MULTI = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);
/** Connection state the proxy keeps itself: refused inside MULTI (they would change one node's connection only). */
const STATE_COMMANDS = new Set(["hello", "auth", "readonly", "readwrite", "asking", "client|setname", "select"]);
/** Multi-key commands the proxy splits by slot, with how their replies combine. */
const SPLIT = new Set(["mget", "mset", "del", "unlink", "exists", "touch"]);

const ARGV_ASKING = [encoder.encode("ASKING")];
const ARGV_MULTI = [encoder.encode("MULTI")];
const ARGV_OFFSET = [encoder.encode("TIDEKV.OFFSET")];
const ARGV_READONLY = [encoder.encode("READONLY")];
const ARGV_UNWATCH = [encoder.encode("UNWATCH")];
const NULL_REPLID = "0".repeat(40);

// ---- connections to nodes ------------------------------------------------------------

/** An open link to one node (a WebSocket carrying RESP). */
export interface NodeLink {
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface NodeLinkHandlers {
  onMessage(bytes: Uint8Array): void;
  onClose(reason: string): void;
}

/** Opens a link to a node by name (the Durable Object name) for a session opened with `options`. */
export type NodeDialer = (name: string, handlers: NodeLinkHandlers, options: SessionOptions) => Promise<NodeLink>;

export interface ClusterRouterOptions {
  readonly topology: TopologySource;
  readonly dial: NodeDialer;
  readonly random?: () => number;
}

/**
 * Receives each reply, in order, with the protocol it is meant for; as bytes
 * when the session passes node replies through (SessionOptions.passThrough)
 * and this one needed no change.
 */
export type ReplyCallback = (reply: Reply | Uint8Array, protocol: 2 | 3) => void;

export class ClusterRouter implements Router {
  constructor(private readonly options: ClusterRouterOptions) {}

  async open(options: SessionOptions = {}): Promise<ClusterSession> {
    const view = await this.options.topology.get();
    return new ClusterSession(this.options, view, options);
  }
}

// ---- what a session tracks -----------------------------------------------------------

/** One client command, from submission to its (combined) reply. */
interface Pending {
  readonly seq: number;
  readonly argv: Uint8Array[];
  readonly done: ReplyCallback;
  protocol: 2 | 3;
  replies: (Reply | undefined)[];
  remaining: number;
  combine: ((replies: Reply[]) => Reply) | null;
  after: ((reply: Reply) => Reply) | null;
  result: Reply | Uint8Array | null;
}

interface Redirect {
  readonly kind: "MOVED" | "ASK";
  readonly target: string;
  readonly text: string;
}

/** One command sent to one node on behalf of a Pending (a split command has several). */
interface Part {
  readonly owner: Pending;
  readonly index: number;
  readonly seq: number;
  readonly argv: Uint8Array[];
  readonly slot: number;
  node: string;
  shardId: string | null;
  replica: boolean;
  guard: ShardPosition | null;
  asking: boolean;
  /** Commands sent before argv whose replies are not the client's (MULTI and the queue, for EXEC). */
  readonly prelude: Uint8Array[][] | null;
  readonly blocking: boolean;
  readonly write: boolean;
  /** A transaction that used WATCH: after a redirection it fails like a touched WATCH (null array). */
  readonly watched: boolean;
  attempts: number;
  redirect: Redirect | null;
  stale: boolean;
  /** A write's reply, held until the shard's offset after it is known. */
  reply: Reply | Uint8Array | null;
  awaitingOffset: boolean;
}

/** What a node connection expects next: whose reply it is. */
type Expect =
  | { readonly k: "discard" }
  | { readonly k: "pre"; readonly part: Part }
  | { readonly k: "main"; readonly part: Part }
  | { readonly k: "offset"; readonly wait: OffsetWait };

interface OffsetWait {
  readonly shardId: string;
  readonly parts: Part[];
  readonly capture: Capture | null;
}

/** A fetch of several masters' offsets (READONLY after untracked writes, a token from an older epoch). */
interface Capture {
  remaining: number;
  readonly done: () => void;
}

const DISCARD: Expect = Object.freeze({ k: "discard" });

class NodeConn {
  link: NodeLink | null = null;
  failed = false;
  private out: Uint8Array[] = [];
  private outBytes = 0;
  /** Replies still owed for commands in `out` (not sent yet). */
  private outReplies = 0;
  /**
   * Replies still owed for the frame on the wire. A node link carries one
   * unanswered frame at a time: frames sent back to back on one WebSocket were
   * seen to reach a busy node out of order, which would pair replies with the
   * wrong commands. Commands queued meanwhile leave together in the next frame.
   */
  private unanswered = 0;
  readonly expects: Expect[] = [];
  private head = 0;
  readonly parser = new ReplyParser();
  /** Write parts of the batch being built (an OFFSET follows them when tracking). */
  writes: Part[] = [];
  writeShard: string | null = null;

  constructor(readonly name: string, readonly replica: boolean) {}

  push(argv: readonly Uint8Array[], expect: Expect): void {
    const bytes = encodeCommand(argv);
    this.out.push(bytes);
    this.outBytes += bytes.length;
    this.outReplies++;
    this.expects.push(expect);
  }

  /** Sends the queued commands as one frame, once the link is open and the previous frame answered. */
  flush(): void {
    if (this.out.length === 0 || !this.link || this.unanswered > 0) return;
    const frame = this.out.length === 1 ? this.out[0] : concat(this.out, this.outBytes);
    this.unanswered = this.outReplies;
    this.out = [];
    this.outBytes = 0;
    this.outReplies = 0;
    this.link.send(frame);
  }

  opened(link: NodeLink): void {
    this.link = link;
    this.flush();
  }

  /** The part whose own reply (not a prelude's) comes next, if that is what comes next. */
  nextMain(): Part | null {
    const e = this.expects[this.head];
    return e !== undefined && e.k === "main" ? e.part : null;
  }

  shift(): Expect | undefined {
    if (this.head >= this.expects.length) return undefined;
    const e = this.expects[this.head++];
    if (this.head > 1024 && this.head * 2 > this.expects.length) {
      this.expects.splice(0, this.head);
      this.head = 0;
    }
    if (this.unanswered > 0 && --this.unanswered === 0) this.flush();
    return e;
  }

  /** Everything still expected (the link is gone); nothing queued is sent any more. */
  drain(): Expect[] {
    const rest = this.expects.slice(this.head);
    this.expects.length = 0;
    this.head = 0;
    this.out = [];
    this.outBytes = 0;
    this.outReplies = 0;
    this.unanswered = 0;
    return rest;
  }

  close(): void {
    this.failed = true;
    try {
      this.link?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * A part whose reply may go to the client as the node encoded it: the
 * command's only reply, with nothing to combine, rewrite or redirect. (Errors
 * never pass through: takeEncoded leaves them to the parser, so MOVED, ASK
 * and replica refusals are still seen.)
 */
function passable(part: Part): boolean {
  const p = part.owner;
  return p.remaining === 1 && p.combine === null && p.after === null && part.redirect === null && !part.stale;
}

/** An encoded reply as a Reply (for send(), which promises decoded replies). */
function decodeReply(bytes: Uint8Array): Reply {
  const parser = new ReplyParser();
  parser.feed(bytes);
  return parser.next()!;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const lower = (bytes: Uint8Array): string => decoder.decode(bytes).toLowerCase();

/** HELLO, AUTH, RESET and CLIENT SETNAME change the connection state of every node connection. */
function needsIdle(argv: readonly Uint8Array[]): boolean {
  const n = argv[0].length;
  if (n !== 4 && n !== 5 && n !== 6) return false;
  const name = lower(argv[0]);
  if (name === "hello" || name === "auth" || name === "reset") return true;
  return name === "client" && argv.length > 1 && lower(argv[1]) === "setname";
}

interface MultiState {
  readonly queue: { argv: Uint8Array[]; command: Command; slot: number }[];
  aborted: boolean;
}

// ---- the session -----------------------------------------------------------------------

export class ClusterSession implements Session {
  /** The protocol replies are encoded for (HELLO changes it). */
  protocol: 2 | 3 = 2;
  /** READONLY: reads may be served by replicas (read-your-writes kept). */
  readFromReplicas: boolean;
  private view: ClusterView;
  private readonly conns = new Map<string, NodeConn>();
  private readonly dirty = new Set<NodeConn>();
  private readonly queue: Pending[] = [];
  private readonly order: Pending[] = [];
  private orderHead = 0;
  private seq = 0;
  private pumpScheduled = false;
  private inflight = 0;
  private blockingInflight = 0;
  private barrier = 0;
  private recovering = false;
  private recoveryRunning = false;
  private redirected: Part[] = [];
  private multi: MultiState | null = null;
  private watchSlot: number | null = null;
  private watchNode: string | null = null;
  /** Connection setup replayed on every new node connection (HELLO, AUTH, CLIENT SETNAME). */
  private setup: { hello: Uint8Array[] | null; auth: Uint8Array[] | null; setname: Uint8Array[] | null } = {
    hello: null,
    auth: null,
    setname: null,
  };
  private tracking: boolean;
  private readonly passThrough: boolean;
  private tokenEpoch: number | null = null;
  private readonly tokenShards = new Map<string, ShardPosition>();
  /** Per shard: writes (or captures) whose offset is not known yet; reads there go to the master. */
  private readonly unsettled = new Map<string, number>();
  /** Per shard: replica reads in flight; a write there waits for them (so a re-read on the master cannot see it). */
  private readonly replicaReads = new Map<string, number>();
  private refreshingToken = false;
  private readonly writtenMasters = new Set<string>();
  private replicaCursor = 0;
  private closed = false;
  /** False until AUTH succeeds when the deployment requires it (commands answered here get NOAUTH). */
  private authenticated: boolean;
  private readonly random: () => number;
  /** Out-of-band pushes (RESP3) from nodes. */
  onPush: ((reply: Reply) => void) | null = null;

  constructor(
    private readonly deps: ClusterRouterOptions,
    view: ClusterView,
    private readonly options: SessionOptions,
  ) {
    this.view = view;
    this.random = deps.random ?? Math.random;
    this.readFromReplicas = options.readFromReplicas ?? false;
    this.passThrough = options.passThrough ?? false;
    this.tracking = this.readFromReplicas || options.syncToken != null || options.trackSyncToken !== false;
    this.authenticated = !(options.requireAuth && options.user === undefined);
    const token = decodeSyncToken(options.syncToken);
    if (token) {
      this.tokenEpoch = token.epoch;
      for (const [shard, position] of token.shards) this.tokenShards.set(shard, position);
    }
  }

  /** The read-your-writes token covering this session's writes (and the token it was opened with). */
  get syncToken(): string | null {
    if (this.tokenEpoch === null) return null;
    return encodeSyncToken({ epoch: this.tokenEpoch, shards: this.tokenShards });
  }

  /** The topology epoch the session routes by. */
  get epoch(): number {
    return this.view.epoch;
  }

  send(argv: Uint8Array[]): Promise<Reply> {
    return new Promise((resolve) => this.submit(argv, (reply) => resolve(reply instanceof Uint8Array ? decodeReply(reply) : reply)));
  }

  /**
   * Queues a command; `done` gets its reply, in submission order. Commands
   * submitted in one synchronous burst leave together (one frame per node).
   */
  submit(argv: Uint8Array[], done: ReplyCallback): void {
    if (!this.enqueue(argv, done) || this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Queues a command like submit(), but leaves sending it to the caller's
   * kick(): for a caller that knows when its burst is complete (the /resp
   * proxy, at the end of an incoming frame), which saves a turn. False when
   * the session is closed (`done` already has its error).
   */
  enqueue(argv: Uint8Array[], done: ReplyCallback): boolean {
    if (this.closed) {
      done(error("ERR tidekv proxy: session closed"), this.protocol);
      return false;
    }
    const p: Pending = {
      seq: this.seq++,
      argv,
      done,
      protocol: this.protocol,
      replies: [],
      remaining: 0,
      combine: null,
      after: null,
      result: null,
    };
    this.order.push(p);
    this.queue.push(p);
    return true;
  }

  /** Sends what was queued so far now (see enqueue). */
  kick(): void {
    if (this.queue.length > 0) this.pump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.conns.values()) conn.close();
    this.conns.clear();
  }

  // ---- dispatch ----------------------------------------------------------------------

  private get gateOpen(): boolean {
    return !this.recovering && this.blockingInflight === 0 && this.barrier === 0;
  }

  /** Plans queued commands while the gate is open, then sends what they produced. */
  private pump(): void {
    if (this.closed) return;
    if (this.inflight === 0 && !this.recovering) this.adoptNewerTopology();
    let at = 0;
    while (at < this.queue.length && this.gateOpen) {
      const p = this.queue[at];
      // HELLO, AUTH, RESET, CLIENT SETNAME run alone: everything before them answered first.
      if (this.inflight > 0 && needsIdle(p.argv)) break;
      if (!this.plan(p)) break; // waits (a write behind replica reads of its shard)
      at++;
    }
    if (at > 0) this.queue.splice(0, at);
    this.flushOut();
  }

  private adoptNewerTopology(): void {
    const newest = this.deps.topology.current();
    if (newest && newest !== this.view && (newest.epoch > this.view.epoch || newest.identity !== this.view.identity)) this.view = newest;
  }

  /** Routes one command; false when it must wait (nothing was done). */
  private plan(p: Pending): boolean {
    const argv = p.argv;
    p.protocol = this.protocol;
    const resolved = commandTable.resolve(argv);
    if ("type" in resolved) {
      if (this.multi) this.multi.aborted = true;
      this.complete(p, resolved);
      return true;
    }
    const command = resolved;
    const top = command.parent ? command.parent.name : command.name;
    // Redis's order: unknown command and arity, then NOAUTH, then NOPERM.
    if (!this.authenticated && !command.noAuth) {
      if (this.multi) this.multi.aborted = true;
      this.complete(p, error("NOAUTH Authentication required."));
      return true;
    }
    if (this.options.readonly && (command.isWrite || command.flags.has("admin"))) {
      if (this.multi) this.multi.aborted = true;
      this.complete(p, error(Messages.noPerm(command.fullName)));
      return true;
    }
    if (this.multi && !RUN_IN_MULTI.has(top)) {
      this.queueInMulti(p, command);
      return true;
    }
    switch (top) {
      case "ping":
        if (argv.length > 2) this.complete(p, error("ERR wrong number of arguments for 'ping' command"));
        else this.complete(p, argv.length === 2 ? bulk(argv[1]) : PONG);
        return true;
      case "echo":
        this.complete(p, bulk(argv[1]));
        return true;
      case "quit":
        this.complete(p, OK);
        return true;
      case "asking":
        this.complete(p, OK);
        return true;
      case "readonly":
        // OK once the offsets of earlier untracked writes are known: the
        // client's next command then cannot race the OFFSET in another frame
        // (a node may take two frames of one link out of order).
        this.setReadFromReplicas(true, () => this.complete(p, OK));
        return true;
      case "readwrite":
        this.readFromReplicas = false;
        this.complete(p, OK);
        return true;
      case "reset":
        this.reset();
        this.complete(p, simple("RESET"));
        return true;
      case "multi":
        if (this.multi) this.complete(p, error(Messages.multiNested));
        else {
          this.multi = { queue: [], aborted: false };
          this.complete(p, OK);
        }
        return true;
      case "discard":
        return this.discard(p);
      case "exec":
        return this.exec(p);
      case "watch":
        return this.watch(p, command);
      case "unwatch":
        if (this.watchNode !== null) {
          const node = this.watchNode;
          this.clearWatch(false);
          this.single(p, command, node, -1);
        } else {
          this.complete(p, OK);
        }
        return true;
      case "hello":
      case "auth":
        return this.stateCommand(p, command, top);
      case "client":
        if (command.name === "setname") return this.stateCommand(p, command, "setname");
        break;
      case "dbsize":
        return this.fanOut(p, command, this.view.masters, sumIntegers);
      case "keys":
        return this.fanOut(p, command, this.view.masters, concatArrays);
      case "flushall":
      case "flushdb":
        return this.fanOut(p, command, this.view.masters, firstErrorOrFirst);
      case "randomkey":
        return this.fanOut(p, command, this.view.masters, (replies) => pickRandomKey(replies, this.random));
      case "scan":
        return this.scan(p, command);
      case "info":
        return this.info(p, command);
      case "wait":
      case "waitaof": {
        const targets = this.view.masters.filter((m) => this.writtenMasters.has(m.name));
        return this.fanOut(p, command, targets.length ? targets : this.defaultMasters(), minIntegers);
      }
      case "cluster":
        if ((command.name === "countkeysinslot" || command.name === "getkeysinslot") && argv.length >= 3) {
          const slot = Number(decoder.decode(argv[2]));
          const owner = Number.isInteger(slot) && slot >= 0 && slot < 16384 ? this.view.map.owner(slot) : null;
          if (owner) return this.single(p, command, owner.name, slot);
        }
        break;
    }
    return this.keyed(p, command);
  }

  /** A command routed by its keys (or to the default master when it has none). */
  private keyed(p: Pending, command: Command): boolean {
    const argv = p.argv;
    const positions = keyPositions(command, argv);
    if (positions.length === 0) {
      const master = this.view.defaultMaster;
      if (!master) {
        this.complete(p, error(Messages.noNodes));
        return true;
      }
      return this.single(p, command, master.name, -1);
    }
    const slot = keySlot(argv[positions[0]]);
    let oneSlot = true;
    for (let i = 1; i < positions.length; i++) {
      if (keySlot(argv[positions[i]]) !== slot) {
        oneSlot = false;
        break;
      }
    }
    if (!oneSlot) {
      const top = command.parent ? command.parent.name : command.name;
      if (SPLIT.has(top)) return this.split(p, command, top, positions);
      this.complete(p, error(Messages.crossSlot));
      return true;
    }
    const owner = this.view.map.owner(slot);
    if (!owner) {
      this.complete(p, error(Messages.unserved));
      return true;
    }
    return this.single(p, command, owner.name, slot);
  }

  /** One part, to `node` (a master) or, for a read with READONLY, to one of its replicas. */
  private single(p: Pending, command: Command, node: string, slot: number): boolean {
    const master = this.view.map.nodeByName(node);
    const shardId = master?.shardId ?? null;
    const isWrite = command.isWrite;
    if (isWrite && shardId !== null && (this.replicaReads.get(shardId) ?? 0) > 0) return false;
    p.remaining = 1;
    p.replies = [undefined];
    const part = this.makePart(p, 0, p.argv, slot, node, shardId, command, null, false);
    if (master && this.isReplicaRead(command)) this.toReplica(part, master);
    this.dispatch(part);
    return true;
  }

  private makePart(
    p: Pending,
    index: number,
    argv: Uint8Array[],
    slot: number,
    node: string,
    shardId: string | null,
    command: Command | null,
    prelude: Uint8Array[][] | null,
    watched: boolean,
    write = command?.isWrite ?? false,
  ): Part {
    const top = command ? (command.parent ? command.parent.name : command.name) : "";
    return {
      owner: p,
      index,
      seq: p.seq * 65536 + index,
      argv,
      slot,
      node,
      shardId,
      replica: false,
      guard: null,
      asking: false,
      prelude,
      blocking: command !== null && (command.flags.has("blocking") || EXTRA_BLOCKING.has(top)),
      write,
      watched,
      attempts: 0,
      redirect: null,
      stale: false,
      reply: null,
      awaitingOffset: false,
    };
  }

  private isReplicaRead(command: Command): boolean {
    return this.readFromReplicas && command.isReadonly && !command.isWrite && !command.flags.has("blocking");
  }

  /** Sends a read to a replica of `master` when one may serve it (see docs/proxy.md). */
  private toReplica(part: Part, master: ClusterNode): void {
    const shardId = master.shardId;
    if ((this.unsettled.get(shardId) ?? 0) > 0 || this.refreshingToken) return;
    if (this.tokenEpoch !== null && this.tokenShards.size > 0 && this.tokenEpoch < this.view.epoch) {
      this.refreshToken();
      return;
    }
    const replicas = this.view.replicasOf(master.id);
    if (replicas.length === 0) return;
    const replica = replicas[this.replicaCursor++ % replicas.length];
    part.node = replica.name;
    part.replica = true;
    part.guard = this.tokenShards.get(shardId) ?? null;
  }

  /** Splits a multi-key command by slot; replies are put back together. */
  private split(p: Pending, command: Command, top: string, positions: number[]): boolean {
    const argv = p.argv;
    const step = top === "mset" ? 2 : 1;
    if (step === 2 && (argv.length - 1) % 2 !== 0) {
      this.complete(p, error(`ERR wrong number of arguments for '${command.fullName}' command`));
      return true;
    }
    const groups = new Map<number, { keyIndexes: number[]; argv: Uint8Array[] }>();
    positions.forEach((pos, i) => {
      const slot = keySlot(argv[pos]);
      let g = groups.get(slot);
      if (!g) groups.set(slot, (g = { keyIndexes: [], argv: [argv[0]] }));
      g.keyIndexes.push(i);
      for (let j = 0; j < step; j++) g.argv.push(argv[pos + j]);
    });
    const routed: { slot: number; owner: ClusterNode; g: { keyIndexes: number[]; argv: Uint8Array[] } }[] = [];
    for (const [slot, g] of groups) {
      const owner = this.view.map.owner(slot);
      if (!owner) {
        this.complete(p, error(Messages.unserved));
        return true;
      }
      if (command.isWrite && (this.replicaReads.get(owner.shardId) ?? 0) > 0) return false;
      routed.push({ slot, owner, g });
    }
    p.remaining = routed.length;
    p.replies = new Array(routed.length);
    const keyCount = positions.length;
    if (top === "mget") {
      p.combine = (replies) => {
        const err = replies.find((r) => r.type === "error");
        if (err) return err;
        const values: Reply[] = new Array(keyCount);
        routed.forEach(({ g }, i) => {
          const r = replies[i];
          const items = r.type === "array" ? r.value : [];
          g.keyIndexes.forEach((k, j) => (values[k] = items[j]));
        });
        return array(values);
      };
    } else if (top === "mset") {
      p.combine = firstErrorOrFirst;
    } else {
      p.combine = sumIntegers;
    }
    routed.forEach(({ slot, owner, g }, i) => {
      const part = this.makePart(p, i, g.argv, slot, owner.name, owner.shardId, command, null, false);
      if (this.isReplicaRead(command)) this.toReplica(part, owner);
      this.dispatch(part);
    });
    return true;
  }

  /** The same command on several masters; `combine` merges their replies. */
  private fanOut(p: Pending, command: Command, nodes: readonly ClusterNode[], combine: (replies: Reply[]) => Reply): boolean {
    if (nodes.length === 0) {
      this.complete(p, error(Messages.noNodes));
      return true;
    }
    if (command.isWrite && nodes.some((n) => (this.replicaReads.get(n.shardId) ?? 0) > 0)) return false;
    p.remaining = nodes.length;
    p.replies = new Array(nodes.length);
    p.combine = combine;
    nodes.forEach((node, i) => this.dispatch(this.makePart(p, i, p.argv, -1, node.name, node.shardId, command, null, false)));
    return true;
  }

  private defaultMasters(): ClusterNode[] {
    const m = this.view.defaultMaster;
    return m ? [m] : [];
  }

  /** SCAN over every shard in turn: cursor = node cursor * 1024 + shard index. */
  private scan(p: Pending, command: Command): boolean {
    const text = decoder.decode(p.argv[1]);
    if (!/^\d{1,20}$/.test(text) || BigInt(text) > MAX_UINT64) {
      this.complete(p, error("ERR invalid cursor"));
      return true;
    }
    const cursor = BigInt(text);
    const masters = this.view.masters;
    const shard = Number(cursor % SCAN_SHARDS);
    const nodeCursor = cursor / SCAN_SHARDS;
    if (shard >= masters.length) {
      this.complete(p, array([bulk("0"), array([])]));
      return true;
    }
    const argv = [p.argv[0], encoder.encode(String(nodeCursor)), ...p.argv.slice(2)];
    p.remaining = 1;
    p.replies = [undefined];
    p.combine = ([reply]) => {
      if (reply.type !== "array" || reply.value.length !== 2 || reply.value[0].type !== "bulk") return reply;
      const next = BigInt(decoder.decode(reply.value[0].value));
      let composite: bigint;
      if (next !== 0n) composite = next * SCAN_SHARDS + BigInt(shard);
      else composite = shard + 1 < masters.length ? BigInt(shard + 1) : 0n;
      return array([bulk(String(composite)), reply.value[1]]);
    };
    const node = masters[shard];
    this.dispatch(this.makePart(p, 0, argv, -1, node.name, node.shardId, command, null, false));
    return true;
  }

  /** INFO from the default master; the Keyspace section summed over all masters. */
  private info(p: Pending, command: Command): boolean {
    const sections = p.argv.slice(1).map(lower);
    const wantsKeyspace = sections.length === 0 || sections.some((s) => s === "keyspace" || s === "all" || s === "everything" || s === "default");
    const masters = this.view.masters;
    if (!wantsKeyspace || masters.length <= 1) return this.keyed(p, command);
    const first = this.view.defaultMaster!;
    const ordered = [first, ...masters.filter((m) => m !== first)];
    return this.fanOut(p, command, ordered, mergeInfo);
  }

  // ---- transactions -------------------------------------------------------------------

  private queueInMulti(p: Pending, command: Command): void {
    const multi = this.multi!;
    if (command.flags.has("no_multi") || STATE_COMMANDS.has(command.fullName) || STATE_COMMANDS.has(command.parent?.name ?? command.name)) {
      multi.aborted = true;
      this.complete(p, error(Messages.notInMulti));
      return;
    }
    const positions = keyPositions(command, p.argv);
    let slot = -1;
    for (const pos of positions) {
      const s = keySlot(p.argv[pos]);
      if (slot === -1) slot = s;
      else if (s !== slot) {
        multi.aborted = true;
        this.complete(p, error(Messages.crossSlot));
        return;
      }
    }
    if (slot !== -1 && !this.view.map.owner(slot)) {
      multi.aborted = true;
      this.complete(p, error(Messages.unserved));
      return;
    }
    multi.queue.push({ argv: p.argv, command, slot });
    this.complete(p, QUEUED);
  }

  private discard(p: Pending): boolean {
    if (!this.multi) {
      this.complete(p, error(Messages.discardWithoutMulti));
      return true;
    }
    this.multi = null;
    this.clearWatch(true);
    this.complete(p, OK);
    return true;
  }

  private exec(p: Pending): boolean {
    const multi = this.multi;
    if (!multi) {
      this.complete(p, error(Messages.execWithoutMulti));
      return true;
    }
    if (multi.aborted) {
      this.multi = null;
      this.clearWatch(true);
      this.complete(p, error(Messages.execAbort));
      return true;
    }
    let slot = this.watchSlot ?? -1;
    for (const q of multi.queue) {
      if (q.slot === -1) continue;
      if (slot === -1) slot = q.slot;
      else if (q.slot !== slot) {
        this.multi = null;
        this.clearWatch(true);
        this.complete(p, error(Messages.crossSlot));
        return true;
      }
    }
    const owner = slot === -1 ? this.view.defaultMaster : this.view.map.owner(slot);
    if (!owner) {
      this.multi = null;
      this.clearWatch(true);
      this.complete(p, error(slot === -1 ? Messages.noNodes : Messages.unserved));
      return true;
    }
    const write = multi.queue.some((q) => q.command.isWrite);
    if (write && (this.replicaReads.get(owner.shardId) ?? 0) > 0) return false;
    const watched = this.watchSlot !== null;
    const node = watched ? this.watchNode! : owner.name;
    this.multi = null;
    this.watchSlot = null;
    this.watchNode = null;
    p.remaining = 1;
    p.replies = [undefined];
    const prelude = [ARGV_MULTI, ...multi.queue.map((q) => q.argv)];
    const execCommand = commandTable.get("exec")!;
    this.dispatch(this.makePart(p, 0, p.argv, slot, node, owner.shardId, execCommand, prelude, watched, write));
    return true;
  }

  private watch(p: Pending, command: Command): boolean {
    if (this.multi) {
      this.complete(p, error(Messages.watchInMulti));
      return true;
    }
    let slot = -1;
    for (let i = 1; i < p.argv.length; i++) {
      const s = keySlot(p.argv[i]);
      if (slot === -1) slot = s;
      else if (s !== slot) {
        this.complete(p, error(Messages.crossSlot));
        return true;
      }
    }
    if (this.watchSlot !== null && this.watchSlot !== slot) {
      this.complete(p, error(Messages.crossSlot));
      return true;
    }
    const owner = this.view.map.owner(slot);
    if (!owner) {
      this.complete(p, error(Messages.unserved));
      return true;
    }
    const node = this.watchNode ?? owner.name;
    this.watchSlot = slot;
    this.watchNode = node;
    return this.single(p, command, node, slot);
  }

  /** Forgets WATCHed keys; `tell` sends UNWATCH to their node (its reply is not the client's). */
  private clearWatch(tell: boolean): void {
    if (tell && this.watchNode !== null) {
      const conn = this.conn(this.watchNode, false);
      conn.push(ARGV_UNWATCH, DISCARD);
      this.dirty.add(conn);
    }
    this.watchSlot = null;
    this.watchNode = null;
  }

  // ---- connection state ---------------------------------------------------------------

  /**
   * HELLO, AUTH, CLIENT SETNAME: run on the default master; when they succeed
   * they are repeated on every other connection and replayed on new ones.
   * Nothing else is dispatched until they are answered.
   */
  private stateCommand(p: Pending, command: Command, kind: "hello" | "auth" | "setname"): boolean {
    const master = this.view.defaultMaster;
    if (!master) {
      this.complete(p, error(Messages.noNodes));
      return true;
    }
    const argv = p.argv;
    this.barrier++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        this.barrier--;
      }
    };
    p.after = (reply) => {
      release();
      if (reply.type === "error") return reply;
      if (kind === "auth" || argv.slice(2).some((a) => lower(a) === "auth")) this.authenticated = true;
      if (kind === "hello") {
        const auth = argv.slice(2).some((a) => lower(a) === "auth");
        const setname = argv.slice(2).some((a) => lower(a) === "setname");
        if (argv.length >= 2) this.protocol = Number(decoder.decode(argv[1])) === 3 ? 3 : 2;
        p.protocol = this.protocol;
        this.setup.hello = argv;
        if (auth) this.setup.auth = null;
        if (setname) this.setup.setname = null;
      } else if (kind === "auth") {
        this.setup.auth = argv;
      } else {
        this.setup.setname = argv;
      }
      for (const conn of this.conns.values()) {
        if (conn.name === master.name && !conn.replica) continue;
        conn.push(argv, DISCARD);
        this.dirty.add(conn);
      }
      return reply;
    };
    p.remaining = 1;
    p.replies = [undefined];
    this.dispatch(this.makePart(p, 0, argv, -1, master.name, master.shardId, command, null, false));
    return true;
  }

  private reset(): void {
    const lostShards = new Set<string>();
    for (const conn of this.conns.values()) {
      conn.close();
      // Offsets still on their way (nothing else is: RESET runs when all is answered) will not come.
      for (const expect of conn.drain()) {
        if (expect.k !== "offset") continue;
        lostShards.add(expect.wait.shardId);
        this.offsetLost(expect.wait);
      }
    }
    this.conns.clear();
    this.dirty.clear();
    this.protocol = 2;
    this.setup = { hello: null, auth: null, setname: null };
    this.readFromReplicas = false;
    this.authenticated = !(this.options.requireAuth && this.options.user === undefined);
    this.multi = null;
    this.watchSlot = null;
    this.watchNode = null;
    if (lostShards.size) this.capture(this.view.masters.filter((m) => lostShards.has(m.shardId)), () => {});
  }

  /** `done` runs once the offsets READONLY has to learn (if any) have arrived. */
  private setReadFromReplicas(on: boolean, done: () => void): void {
    this.readFromReplicas = on;
    if (on && !this.tracking) {
      // Writes made before READONLY were not tracked: learn their shards' offsets now.
      this.tracking = true;
      const written = this.view.masters.filter((m) => this.writtenMasters.has(m.name));
      if (written.length) {
        this.capture(written, done);
        return;
      }
      if (this.tokenEpoch === null) this.tokenEpoch = this.view.epoch;
    }
    done();
  }

  /** Re-reads every master's offset: the token then covers whatever moved under an older topology. */
  private refreshToken(): void {
    if (this.refreshingToken) return;
    this.refreshingToken = true;
    const epoch = this.view.epoch;
    this.capture(this.view.masters, () => {
      this.refreshingToken = false;
      this.tokenEpoch = epoch;
    });
  }

  private capture(masters: readonly ClusterNode[], done: () => void): void {
    if (masters.length === 0) {
      done();
      return;
    }
    const capture: Capture = { remaining: masters.length, done };
    for (const m of masters) {
      const conn = this.conn(m.name, false);
      this.unsettle(m.shardId);
      conn.push(ARGV_OFFSET, { k: "offset", wait: { shardId: m.shardId, parts: [], capture } });
      this.dirty.add(conn);
    }
  }

  private unsettle(shardId: string): void {
    this.unsettled.set(shardId, (this.unsettled.get(shardId) ?? 0) + 1);
  }

  private settle(shardId: string): void {
    const n = (this.unsettled.get(shardId) ?? 1) - 1;
    if (n <= 0) this.unsettled.delete(shardId);
    else this.unsettled.set(shardId, n);
  }

  // ---- sending -------------------------------------------------------------------------

  private conn(name: string, replica: boolean): NodeConn {
    const key = replica ? `r:${name}` : name;
    let conn = this.conns.get(key);
    if (conn && !conn.failed) return conn;
    conn = new NodeConn(name, replica);
    this.conns.set(key, conn);
    const { hello, auth, setname } = this.setup;
    if (hello) conn.push(hello, DISCARD);
    if (auth) conn.push(auth, DISCARD);
    if (setname) conn.push(setname, DISCARD);
    if (replica) conn.push(ARGV_READONLY, DISCARD);
    this.dirty.add(conn);
    const c = conn;
    this.deps
      .dial(
        name,
        {
          onMessage: (bytes) => this.receive(c, bytes),
          onClose: (reason) => this.lost(c, reason),
        },
        this.options,
      )
      .then(
        (link) => {
          if (this.closed || c.failed) {
            link.close();
            return;
          }
          c.opened(link);
        },
        (e: unknown) => this.lost(c, (e as Error)?.message ?? String(e), true),
      );
    return conn;
  }

  private dispatch(part: Part): void {
    const conn = this.conn(part.node, part.replica);
    if (part.asking) conn.push(ARGV_ASKING, { k: "pre", part });
    if (part.guard) {
      const g = part.guard;
      conn.push([encoder.encode("TIDEKV.READAFTER"), encoder.encode(g.replid), encoder.encode(String(g.offset))], { k: "pre", part });
    }
    if (part.prelude) for (const argv of part.prelude) conn.push(argv, { k: "pre", part });
    conn.push(part.argv, { k: "main", part });
    this.inflight++;
    if (part.blocking) this.blockingInflight++;
    if (part.replica && part.shardId) this.replicaReads.set(part.shardId, (this.replicaReads.get(part.shardId) ?? 0) + 1);
    if (part.write && !part.replica) {
      this.writtenMasters.add(part.node);
      if (this.tracking && part.shardId) {
        if (conn.writes.length === 0) this.unsettle(part.shardId);
        part.awaitingOffset = true;
        conn.writes.push(part);
        conn.writeShard = part.shardId;
      }
    }
    this.dirty.add(conn);
  }

  /** Sends every node's batch: one frame per node (with an OFFSET after writes when tracking). */
  private flushOut(): void {
    if (this.dirty.size === 0) return;
    for (const conn of this.dirty) {
      if (conn.writes.length > 0) {
        conn.push(ARGV_OFFSET, { k: "offset", wait: { shardId: conn.writeShard!, parts: conn.writes, capture: null } });
        conn.writes = [];
        conn.writeShard = null;
      }
      if (!conn.failed) conn.flush();
    }
    this.dirty.clear();
  }

  // ---- replies -------------------------------------------------------------------------

  private receive(conn: NodeConn, bytes: Uint8Array): void {
    if (this.closed || conn.failed) return;
    conn.parser.feed(bytes);
    for (;;) {
      if (this.passThrough) {
        const part = conn.nextMain();
        if (part !== null && passable(part)) {
          const encoded = conn.parser.takeEncoded();
          if (encoded !== null) {
            conn.shift();
            this.partLanded(part);
            if (part.awaitingOffset) part.reply = encoded;
            else this.finish(part, encoded);
            continue;
          }
        }
      }
      let reply: Reply | undefined;
      try {
        reply = conn.parser.next();
      } catch (e) {
        this.lost(conn, `bad reply: ${(e as Error).message}`, true);
        return;
      }
      if (reply === undefined) break;
      if (reply.type === "push") {
        this.onPush?.(reply);
        continue;
      }
      const expect = conn.shift();
      if (!expect) continue;
      this.handle(conn, expect, reply);
    }
    this.afterReplies();
  }

  private handle(conn: NodeConn, expect: Expect, reply: Reply): void {
    switch (expect.k) {
      case "discard":
        return;
      case "pre": {
        if (reply.type !== "error") return;
        const part = expect.part;
        const redirect = parseRedirect(reply.value);
        if (redirect) part.redirect ??= redirect;
        else if (reply.value.startsWith("STALE")) part.stale = true;
        return;
      }
      case "main":
        this.onPartReply(expect.part, reply);
        return;
      case "offset":
        this.onOffset(expect.wait, reply);
        return;
    }
  }

  private onPartReply(part: Part, reply: Reply): void {
    this.partLanded(part);
    const redirect = part.redirect ?? (reply.type === "error" ? parseRedirect(reply.value) : null);
    if (part.replica && (part.stale || redirect || (reply.type === "error" && isReplicaRefusal(reply.value)))) {
      // The replica is behind the client's writes (or cannot serve): ask the master.
      this.toMaster(part);
      this.dispatch(part);
      return;
    }
    if (redirect) {
      part.redirect = null;
      if (part.attempts >= MAX_REDIRECTS) {
        this.finish(part, error(Messages.tooManyRedirects(redirect.text)));
        return;
      }
      part.redirect = redirect;
      this.redirected.push(part);
      this.recovering = true;
      return;
    }
    if (part.awaitingOffset) {
      part.reply = reply;
      return;
    }
    this.finish(part, reply);
  }

  private partLanded(part: Part): void {
    this.inflight--;
    if (part.blocking) this.blockingInflight--;
    if (part.replica && part.shardId) {
      const n = (this.replicaReads.get(part.shardId) ?? 1) - 1;
      if (n <= 0) this.replicaReads.delete(part.shardId);
      else this.replicaReads.set(part.shardId, n);
    }
  }

  private toMaster(part: Part): void {
    const shardId = part.shardId;
    const master = this.view.masters.find((m) => m.shardId === shardId) ?? (part.slot >= 0 ? this.view.map.owner(part.slot) : null);
    part.replica = false;
    part.guard = null;
    part.stale = false;
    part.redirect = null;
    if (master) part.node = master.name;
  }

  private onOffset(wait: OffsetWait, reply: Reply): void {
    let position: ShardPosition;
    if (reply.type === "array" && reply.value.length === 2 && reply.value[0].type === "bulk" && reply.value[1].type === "integer") {
      position = { replid: decoder.decode(reply.value[0].value), offset: Number(reply.value[1].value) };
    } else {
      // No offset to be had: a history no replica has, so reads of this shard go to its master.
      position = { replid: NULL_REPLID, offset: 0 };
    }
    this.recordPosition(wait.shardId, position);
    this.releaseWait(wait);
  }

  /** An offset that will not arrive: its writes' replies go out, the shard's reads stay on the master until it is read again. */
  private offsetLost(wait: OffsetWait): void {
    this.releaseWait(wait);
  }

  /** The offset wait is over (known or lost): settle the shard and release the writes' held replies. */
  private releaseWait(wait: OffsetWait): void {
    this.settle(wait.shardId);
    for (const part of wait.parts) {
      if (!part.awaitingOffset) continue;
      part.awaitingOffset = false;
      if (part.reply) {
        const r = part.reply;
        part.reply = null;
        this.finish(part, r);
      }
    }
    if (wait.capture && --wait.capture.remaining === 0) wait.capture.done();
  }

  private recordPosition(shardId: string, position: ShardPosition): void {
    if (this.tokenEpoch === null) this.tokenEpoch = this.view.epoch;
    this.tokenShards.set(shardId, mergePosition(this.tokenShards.get(shardId), position));
  }

  private finish(part: Part, reply: Reply | Uint8Array): void {
    const p = part.owner;
    if (reply instanceof Uint8Array) {
      // Passed through (see passable): the command's one reply, unchanged.
      p.remaining = 0;
      this.complete(p, reply);
      return;
    }
    p.replies[part.index] = reply;
    if (--p.remaining === 0) {
      const replies = p.replies as Reply[];
      this.complete(p, p.combine ? p.combine(replies) : replies[0]);
    }
  }

  private complete(p: Pending, reply: Reply | Uint8Array): void {
    p.result = p.after && !(reply instanceof Uint8Array) ? p.after(reply) : reply;
    const order = this.order;
    while (this.orderHead < order.length) {
      const head = order[this.orderHead];
      if (head.result === null) break;
      this.orderHead++;
      head.done(head.result, head.protocol);
    }
    if (this.orderHead > 1024 && this.orderHead * 2 > order.length) {
      order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }

  /** After a batch of replies: recover from redirections, send what replies produced, go on. */
  private afterReplies(): void {
    if (this.recovering && !this.recoveryRunning && this.inflight === this.blockingInflight) void this.recover();
    this.pump();
  }

  /**
   * MOVED/ASK: once every other command in flight is answered (so nothing
   * sent later can overtake a retried command), re-reads the topology (MOVED)
   * and sends the redirected commands again, in their original order.
   */
  private async recover(): Promise<void> {
    this.recoveryRunning = true;
    try {
      const parts = this.redirected.sort((a, b) => a.seq - b.seq);
      this.redirected = [];
      if (parts.some((p) => p.redirect!.kind === "MOVED")) {
        try {
          const view = await this.deps.topology.refresh();
          if (view.epoch >= this.view.epoch || view.identity !== this.view.identity) this.view = view;
        } catch {
          // keep routing by the redirections themselves
        }
      }
      if (this.closed) return;
      for (const part of parts) {
        const redirect = part.redirect!;
        part.redirect = null;
        if (part.watched) {
          // The WATCHed keys moved: the transaction fails as if they had been touched.
          this.finish(part, NULL_ARRAY);
          continue;
        }
        part.attempts++;
        if (this.watchNode === part.node && lower(part.argv[0]) === "watch") this.watchNode = redirect.target;
        part.node = redirect.target;
        part.shardId = this.view.map.nodeByName(redirect.target)?.shardId ?? part.shardId;
        part.replica = false;
        part.guard = null;
        part.asking = redirect.kind === "ASK";
        part.awaitingOffset = false;
        this.dispatch(part);
      }
    } finally {
      this.recovering = false;
      this.recoveryRunning = false;
    }
    this.pump();
  }

  /** A node connection closed or could not open: its unanswered commands get an error (reads on replicas retry on the master). */
  private lost(conn: NodeConn, reason: string, dialFailed = false): void {
    if (conn.failed && !dialFailed) return;
    conn.close();
    for (const [key, c] of this.conns) if (c === conn) this.conns.delete(key);
    this.dirty.delete(conn);
    if (this.closed) return;
    const message = dialFailed ? Messages.unreachable(conn.name, reason) : Messages.lost(conn.name);
    const lostShards: string[] = [];
    for (const expect of conn.drain()) {
      if (expect.k === "main") {
        const part = expect.part;
        this.partLanded(part);
        if (part.replica) {
          this.toMaster(part);
          this.dispatch(part);
        } else if (part.awaitingOffset) {
          part.awaitingOffset = false;
          this.finish(part, error(message));
        } else {
          this.finish(part, error(message));
        }
      } else if (expect.k === "offset") {
        lostShards.push(expect.wait.shardId);
        this.offsetLost(expect.wait);
      }
    }
    // Offsets we could not learn: read them again on a new connection.
    const masters = this.view.masters.filter((m) => lostShards.includes(m.shardId) && m.name !== conn.name);
    const self = this.view.masters.filter((m) => lostShards.includes(m.shardId) && m.name === conn.name);
    if (masters.length || self.length) this.capture([...masters, ...self], () => {});
    this.afterReplies();
  }
}

// ---- reply helpers -----------------------------------------------------------------------

function parseRedirect(text: string): Redirect | null {
  const kind = text.startsWith("MOVED ") ? "MOVED" : text.startsWith("ASK ") ? "ASK" : null;
  if (!kind) return null;
  const parts = text.split(" ");
  if (parts.length < 3) return null;
  const address = parts[2];
  const colon = address.lastIndexOf(":");
  const target = colon > 0 ? address.slice(0, colon) : address;
  if (!target) return null;
  return { kind, target, text };
}

/** Errors after which a read on a replica is retried on its master. */
function isReplicaRefusal(text: string): boolean {
  return text.startsWith("MASTERDOWN") || text.startsWith("LOADING") || text.startsWith("STALE") || text.startsWith("READONLY") || text.startsWith("CLUSTERDOWN");
}

function firstError(replies: readonly Reply[]): Reply | undefined {
  return replies.find((r) => r.type === "error");
}

function firstErrorOrFirst(replies: Reply[]): Reply {
  return firstError(replies) ?? replies[0];
}

function sumIntegers(replies: Reply[]): Reply {
  const err = firstError(replies);
  if (err) return err;
  let total = 0n;
  for (const r of replies) if (r.type === "integer") total += BigInt(r.value);
  return integer(total >= BigInt(Number.MIN_SAFE_INTEGER) && total <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(total) : total);
}

function minIntegers(replies: Reply[]): Reply {
  const err = firstError(replies);
  if (err) return err;
  let min: Reply | null = null;
  for (const r of replies) if (r.type === "integer" && (min === null || (min.type === "integer" && BigInt(r.value) < BigInt(min.value)))) min = r;
  return min ?? replies[0];
}

function concatArrays(replies: Reply[]): Reply {
  const err = firstError(replies);
  if (err) return err;
  const all: Reply[] = [];
  for (const r of replies) if (r.type === "array" || r.type === "set") all.push(...r.value);
  return array(all);
}

function pickRandomKey(replies: Reply[], random: () => number): Reply {
  const err = firstError(replies);
  if (err) return err;
  const keys = replies.filter((r) => r.type === "bulk");
  if (keys.length === 0) return replies[0];
  return keys[Math.floor(random() * keys.length)];
}

/** INFO: the first reply's text, with its Keyspace section summed over every reply. */
function mergeInfo(replies: Reply[]): Reply {
  const err = firstError(replies);
  if (err) return err;
  const first = replies[0];
  if (first.type !== "bulk" && first.type !== "verbatim") return first;
  const texts = replies.map((r) => (r.type === "bulk" || r.type === "verbatim" ? decoder.decode(r.value) : ""));
  const merged = mergeKeyspace(texts);
  return first.type === "verbatim" ? { type: "verbatim", format: first.format, value: encoder.encode(merged) } : bulk(merged);
}

const KEYSPACE_HEADER = "# Keyspace\r\n";

/** Sums `dbN:keys=..,expires=..,avg_ttl=..` lines over several INFO texts into the first one. */
export function mergeKeyspace(texts: readonly string[]): string {
  const base = texts[0];
  const start = base.indexOf(KEYSPACE_HEADER);
  if (start < 0) return base;
  const totals = new Map<number, { keys: number; expires: number; ttlWeighted: number }>();
  for (const text of texts) {
    const at = text.indexOf(KEYSPACE_HEADER);
    if (at < 0) continue;
    const end = sectionEnd(text, at + KEYSPACE_HEADER.length);
    for (const line of text.slice(at + KEYSPACE_HEADER.length, end).split("\r\n")) {
      const m = /^db(\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)/.exec(line);
      if (!m) continue;
      const db = Number(m[1]);
      const t = totals.get(db) ?? { keys: 0, expires: 0, ttlWeighted: 0 };
      t.keys += Number(m[2]);
      t.expires += Number(m[3]);
      t.ttlWeighted += Number(m[4]) * Number(m[3]);
      totals.set(db, t);
    }
  }
  const lines = [...totals.entries()]
    .sort(([a], [b]) => a - b)
    .map(([db, t]) => `db${db}:keys=${t.keys},expires=${t.expires},avg_ttl=${t.expires ? Math.round(t.ttlWeighted / t.expires) : 0}\r\n`)
    .join("");
  const end = sectionEnd(base, start + KEYSPACE_HEADER.length);
  return base.slice(0, start + KEYSPACE_HEADER.length) + lines + base.slice(end);
}

/** Where a section's lines end: at the blank line before the next section, or the end of the text. */
function sectionEnd(text: string, from: number): number {
  const next = text.indexOf("\r\n#", from - 2);
  if (next < 0) return text.length;
  // `next` points at the CRLF of the blank line that separates sections.
  return next;
}
