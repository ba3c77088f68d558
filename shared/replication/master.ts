import type { Client } from "../engine/client.ts";
import type { Server } from "../engine/server.ts";
import { keyPositions } from "../commands/keys.ts";
import type { Command } from "../commands/spec.ts";
import { encodeCommand } from "../resp/encode.ts";
import type { Backlog } from "./backlog.ts";
import { SnapshotSession } from "./snapshot.ts";
import type { ReplicationState } from "./state.ts";
import { canContinue } from "./stream.ts";
import { ACK_EVENT } from "../engine/blocking.ts";
import { concat } from "../util/bytes.ts";

const encoder = new TextEncoder();

/** Snapshot pieces in flight to one replica before it must acknowledge (bounds memory on both ends). */
const SNAPSHOT_WINDOW = 2;
const SNAPSHOT_CHUNK = 256 * 1024;
/** Backlog bytes sent to a catching-up replica per turn before yielding to other work. */
const PUMP_TURN = 4 * 1024 * 1024;

/** A replica attached to this node, as Redis tracks it in its client (flags SLAVE, replstate). */
export interface AttachedReplica {
  readonly client: Client;
  /** Announced name (REPLCONF ip-address) or the connection's address. */
  name: string;
  listeningPort: number;
  state: "wait_bgsave" | "send_bulk" | "online";
  /** Last offset the replica acknowledged (REPLCONF ACK). */
  ackOffset: number;
  lastAckAt: number;
  /** Last stream offset sent to it. */
  sentOffset: number;
  snapshot: SnapshotSession | null;
  chunksInFlight: number;
  pumping: boolean;
  /** When the unacknowledged output first passed the soft limit (ms), or null. */
  overSoftSince: number | null;
  /** Bytes for this replica not yet handed to its socket (see send()). */
  outgoing: Uint8Array[];
}

export interface HandshakeInfo {
  name?: string;
  listeningPort?: number;
}

/**
 * The master side of replication (Redis's replication.c "master side" and
 * "backlog" parts): PSYNC decisions, the stream fed to replicas, full-sync
 * snapshots, acknowledgements and output limits.
 */
export class MasterSide {
  readonly replicas: AttachedReplica[] = [];
  /** REPLCONF settings a client sent before its PSYNC. */
  readonly handshakes = new WeakMap<Client, HandshakeInfo>();
  /** Set by Replication: a replica attached, so the cron must run. */
  onReplicaAttached: () => void = () => {};
  /** Replicas cut off for exceeding client-output-buffer-limit (INFO stats). */
  outputLimitDisconnections = 0;
  /** Keys copied on write during full syncs since start (pre-images). */
  preimagesSaved = 0;
  /** Stream bytes sent to catch up the last replica that continued (+CONTINUE). */
  lastPartialResyncBytes = 0;
  syncFull = 0;
  syncPartialOk = 0;
  syncPartialErr = 0;
  lastPingAt = 0;

  constructor(
    private readonly server: Server,
    private readonly state: ReplicationState,
    private readonly backlog: Backlog,
  ) {
    server.beforeWrite = (client, command, argv) => this.beforeWrite(client, command, argv);
    server.beforeKeyChange = (record) => {
      for (const replica of this.replicas) replica.snapshot?.preserve(record);
    };
  }

  private get config() {
    return this.server.config;
  }

  replicaOf(client: Client): AttachedReplica | undefined {
    return this.replicas.find((r) => r.client === client);
  }

  // ---- PSYNC ------------------------------------------------------------------

  /** Answers PSYNC: +CONTINUE with the backlog from `offset`, or +FULLRESYNC with a snapshot. */
  psync(client: Client, replid: string, offset: number): void {
    const info = this.handshakes.get(client) ?? {};
    const existing = this.replicaOf(client);
    if (existing) this.detach(existing);
    client.role = "replica";
    const replica: AttachedReplica = {
      client,
      name: info.name ?? client.addr.split(":")[0],
      listeningPort: info.listeningPort ?? 0,
      state: "wait_bgsave",
      ackOffset: 0,
      lastAckAt: this.server.host.now(),
      sentOffset: 0,
      snapshot: null,
      chunksInFlight: 0,
      pumping: false,
      overSoftSince: null,
      outgoing: [],
    };
    this.replicas.push(replica);
    this.backlog.activate();
    this.onReplicaAttached();
    const continuing =
      replid !== "?" &&
      canContinue(
        { replid, offset },
        { replid: this.state.replid, replid2: this.state.replid2, secondOffset: this.state.secondOffset },
        (from) => this.backlog.canServeFrom(from),
      );
    if (continuing) {
      this.syncPartialOk++;
      replica.state = "online";
      replica.sentOffset = offset - 1;
      replica.ackOffset = offset - 1;
      this.send(replica, encoder.encode(`+CONTINUE ${this.state.replid}\r\n`));
      this.lastPartialResyncBytes = this.backlog.masterOffset - replica.sentOffset;
      this.pump(replica);
      return;
    }
    if (replid !== "?") this.syncPartialErr++;
    this.syncFull++;
    const at = this.backlog.masterOffset;
    replica.state = "send_bulk";
    replica.sentOffset = at;
    replica.snapshot = new SnapshotSession(this.server.sql, this.server.keyspace, at);
    // Like Redis: the stream after a full sync starts with a SELECT.
    this.state.streamDb = -1;
    this.send(replica, encoder.encode(`+FULLRESYNC ${this.state.replid} ${at}\r\n`));
    this.sendSnapshot(replica);
  }

  /** REPLCONF SNAPSHOT-ACK: the replica applied one snapshot piece. */
  snapshotAck(client: Client): void {
    const replica = this.replicaOf(client);
    if (!replica || !replica.snapshot) return;
    replica.chunksInFlight = Math.max(0, replica.chunksInFlight - 1);
    this.sendSnapshot(replica);
  }

  private sendSnapshot(replica: AttachedReplica): void {
    const snapshot = replica.snapshot;
    if (!snapshot) return;
    while (replica.chunksInFlight < SNAPSHOT_WINDOW && !snapshot.done) {
      const piece = this.server.sql.transaction(() => snapshot.next(SNAPSHOT_CHUNK));
      if (piece === null) break;
      this.send(replica, piece);
      replica.chunksInFlight++;
    }
    if (snapshot.done) {
      this.preimagesSaved += snapshot.preimages;
      replica.snapshot = null;
      replica.state = "online";
      this.pump(replica);
    }
  }

  // ---- the stream ---------------------------------------------------------------

  /** Appends stream bytes to the backlog and sends them to every replica that is caught up. */
  append(bytes: Uint8Array): void {
    if (!this.backlog.isActive) return;
    const before = this.backlog.masterOffset;
    this.backlog.append(bytes, this.retainedBytes());
    for (const replica of this.replicas) {
      if (replica.state !== "online") continue;
      if (replica.sentOffset === before && !replica.pumping) {
        this.send(replica, bytes);
        replica.sentOffset = this.backlog.masterOffset;
      } else {
        this.pump(replica);
      }
      this.checkOutputLimit(replica);
    }
  }

  /**
   * How much history the backlog keeps: repl-backlog-size, or more while a
   * replica still needs older bytes (it is loading a snapshot or catching up);
   * the backlog is then this replica's output buffer, in SQL instead of memory.
   */
  private retainedBytes(): number {
    let keep = this.config.int("repl-backlog-size");
    const end = this.backlog.masterOffset;
    for (const replica of this.replicas) keep = Math.max(keep, end - replica.sentOffset + 1);
    return keep;
  }

  /** Sends a catching-up replica its missing stream from the backlog, a turn at a time. */
  private pump(replica: AttachedReplica): void {
    if (replica.pumping || replica.state !== "online") return;
    let sent = 0;
    while (replica.sentOffset < this.backlog.masterOffset) {
      if (sent >= PUMP_TURN) {
        replica.pumping = true;
        setTimeout(() => {
          replica.pumping = false;
          if (this.replicas.includes(replica)) this.pump(replica);
        }, 0);
        return;
      }
      const from = replica.sentOffset + 1;
      if (!this.backlog.canServeFrom(from)) {
        this.disconnect(replica, "replica fell out of the backlog");
        return;
      }
      const bytes = this.backlog.read(from, 1024 * 1024);
      if (bytes.length === 0) break;
      this.send(replica, bytes);
      replica.sentOffset += bytes.length;
      sent += bytes.length;
    }
  }

  /** Appends a PING to the stream (repl-ping-replica-period), as Redis's replicationCron does. */
  ping(now: number): void {
    this.lastPingAt = now;
    this.feedRaw(encodeCommand(["PING"]));
  }

  /** Asks replicas for an acknowledgement now (WAIT). */
  getAck(): void {
    this.feedRaw(encodeCommand(["REPLCONF", "GETACK", "*"]));
  }

  private feedRaw(bytes: Uint8Array): void {
    if (this.replicas.length === 0 || !this.backlog.isActive) return;
    this.server.sql.transaction(() => this.append(bytes));
  }

  // ---- acknowledgements, WAIT, min-replicas ------------------------------------

  ack(client: Client, offset: number): void {
    const replica = this.replicaOf(client);
    if (!replica) return;
    if (offset > replica.ackOffset) replica.ackOffset = offset;
    replica.lastAckAt = this.server.host.now();
    this.server.signalEvent(ACK_EVENT);
    this.server.serveReadyKeys();
  }

  /** Replicas that acknowledged at least `offset`. */
  acknowledged(offset: number): number {
    return this.replicas.filter((r) => r.state === "online" && r.ackOffset >= offset).length;
  }

  /** Replicas whose last acknowledgement is at most min-replicas-max-lag seconds old. */
  goodReplicas(now: number): number {
    const maxLag = this.config.int("min-replicas-max-lag") * 1000;
    return this.replicas.filter((r) => r.state === "online" && now - r.lastAckAt <= maxLag).length;
  }

  // ---- limits and timeouts --------------------------------------------------------

  /** client-output-buffer-limit replica: cut a replica whose unacknowledged output is too large. */
  private checkOutputLimit(replica: AttachedReplica): void {
    const [hard, soft, seconds] = this.replicaBufferLimits();
    const pending = replica.sentOffset - replica.ackOffset;
    const now = this.server.host.now();
    if (hard > 0 && pending > hard) {
      this.outputLimitDisconnections++;
      this.disconnect(replica, "output buffer over the hard limit");
      return;
    }
    if (soft > 0 && pending > soft) {
      if (replica.overSoftSince === null) replica.overSoftSince = now;
      else if (now - replica.overSoftSince > seconds * 1000) {
        this.outputLimitDisconnections++;
        this.disconnect(replica, "output buffer over the soft limit for too long");
      }
    } else {
      replica.overSoftSince = null;
    }
  }

  private replicaBufferLimits(): [number, number, number] {
    const words = this.config.get("client-output-buffer-limit").split(/\s+/);
    for (let i = 0; i + 3 < words.length; i += 4) {
      if (words[i] === "slave" || words[i] === "replica") {
        return [Number(words[i + 1]) || 0, Number(words[i + 2]) || 0, Number(words[i + 3]) || 0];
      }
    }
    return [0, 0, 0];
  }

  /** Once a second: PING, timeouts. Returns whether it still has work to do later. */
  cron(now: number): boolean {
    if (this.replicas.length === 0) return false;
    const timeout = this.config.int("repl-timeout") * 1000;
    for (const replica of [...this.replicas]) {
      if (replica.state === "online" && now - replica.lastAckAt > timeout) this.disconnect(replica, "timeout");
    }
    // A replica never pings its own replicas: they get its master's PINGs, relayed.
    if (!this.server.isReplica && now - this.lastPingAt >= this.config.int("repl-ping-replica-period") * 1000) this.ping(now);
    return this.replicas.length > 0;
  }

  // ---- snapshots and writes --------------------------------------------------------

  private beforeWrite(client: Client, command: Command, argv: readonly Uint8Array[]): void {
    const snapshots = this.replicas.filter((r) => r.snapshot !== null);
    if (snapshots.length === 0) return;
    const name = command.parent?.name ?? command.name;
    if (name === "flushall" || name === "flushdb" || name === "swapdb") {
      // Whole-db changes would need a pre-image of everything: start those syncs over instead.
      for (const replica of snapshots) this.disconnect(replica, `${name} during full sync`);
      return;
    }
    for (const position of keyPositions(command, argv)) {
      const record = this.server.keyspace.find(client.db, argv[position]);
      if (record) for (const replica of snapshots) replica.snapshot!.preserve(record);
    }
  }

  // ---- links ---------------------------------------------------------------------

  /**
   * Queues bytes for a replica; they leave together at the end of the current
   * event (a microtask), so a pipelined frame of writes reaches a replica as
   * one message it applies in one transaction, in the order queued.
   */
  private send(replica: AttachedReplica, bytes: Uint8Array): void {
    replica.outgoing.push(bytes);
    if (replica.outgoing.length === 1) queueMicrotask(() => this.flushOutgoing(replica));
  }

  private flushOutgoing(replica: AttachedReplica): void {
    const parts = replica.outgoing;
    if (parts.length === 0) return;
    replica.outgoing = [];
    replica.client.output?.send(parts.length === 1 ? parts[0] : concat(parts));
  }

  disconnect(replica: AttachedReplica, reason: string): void {
    this.server.host.log?.("warn", `dropping replica ${replica.name}: ${reason}`);
    this.detach(replica);
    replica.client.output?.close(reason);
  }

  disconnectAll(reason: string): void {
    for (const replica of [...this.replicas]) this.disconnect(replica, reason);
  }

  /** Forgets a replica (its connection closed). */
  detach(replica: AttachedReplica): void {
    const at = this.replicas.indexOf(replica);
    if (at !== -1) this.replicas.splice(at, 1);
    replica.snapshot?.release();
    replica.snapshot = null;
  }

  clientClosed(client: Client): void {
    const replica = this.replicaOf(client);
    if (replica) this.detach(replica);
  }
}
