import type { Client } from "../engine/client.ts";
import type { Command } from "../commands/spec.ts";
import type { Server } from "../engine/server.ts";
import type { Replication } from "../replication/index.ts";
import { keyPositions } from "../commands/keys.ts";
import { error } from "../resp/reply.ts";
import { keySlot } from "./slot.ts";
import { SlotMap, validateTopology, type ClusterNode, type Topology } from "./topology.ts";

/** The port MOVED/ASK and CLUSTER replies name until the node has seen a request (the public HTTPS port). */
export const DEFAULT_PUBLIC_PORT = 443;

const TOPOLOGY_KEY = "cluster:topology";
const ADOPTED_AT_KEY = "cluster:adopted_at";
const PORT_KEY = "cluster:port";

/** What a node answers when the coordinator hands it a topology. */
export interface ApplyResult {
  /** True when the node took this topology (its epoch was higher than the node's). */
  readonly adopted: boolean;
  /** Why a topology was not taken (lower or equal epoch, not a member, invalid). */
  readonly reason?: string;
  /** The node's status after the call. */
  readonly status: NodeClusterStatus;
}

/** A node's cluster view and replication position, for the coordinator. */
export interface NodeClusterStatus {
  readonly name: string;
  /** Epoch of the topology the node holds (0: none). */
  readonly epoch: number;
  /** Role in that topology, or null without one. */
  readonly role: "master" | "replica" | null;
  /** The node's replication offset (master_repl_offset, or what a replica has applied). */
  readonly offset: number;
  /** Whether the node is replicating as the topology says (a replica's link to its master is up). */
  readonly linkUp: boolean;
  /** The node the replication link follows, or null. */
  readonly following: string | null;
}

export interface ApplyOptions {
  /**
   * Bring replication in line with the topology (follow the master, or
   * promote). The coordinator passes false when it demotes a master during a
   * failover, so the node keeps feeding its replicas until the new master has
   * caught up; a second call with the same topology then reconciles.
   */
  readonly reconcile?: boolean;
}

const states = new WeakMap<Server, ClusterState>();

/** The cluster state of the node whose engine is `server` (for command handlers). */
export function clusterStateOf(server: Server): ClusterState | null {
  return states.get(server) ?? null;
}

/**
 * A node's side of the cluster: the topology it holds (persisted in `meta`,
 * adopted only when its epoch is higher), the redirections it derives from it
 * (Redis's getNodeByQuery), and its replication kept in line with its role.
 * A node without a topology is a standalone node (cluster-enabled no).
 */
export class ClusterState {
  topology: Topology | null = null;
  map: SlotMap | null = null;
  myself: ClusterNode | null = null;
  /** When this node adopted its topology (ms): CLUSTER NODES' pong-received column. */
  adoptedAt = 0;
  /** The public endpoint's port, learned from the requests the worker forwards. */
  port = DEFAULT_PUBLIC_PORT;

  constructor(
    private readonly server: Server,
    private readonly replication: Replication,
  ) {
    states.set(server, this);
    const sql = server.sql;
    const stored = sql.one<{ value: string }>(`SELECT value FROM meta WHERE name = ?`, TOPOLOGY_KEY);
    const port = sql.one<{ value: string }>(`SELECT value FROM meta WHERE name = ?`, PORT_KEY);
    if (port) this.port = Number(port.value);
    const adoptedAt = sql.one<{ value: string }>(`SELECT value FROM meta WHERE name = ?`, ADOPTED_AT_KEY);
    if (adoptedAt) this.adoptedAt = Number(adoptedAt.value);
    if (stored) {
      try {
        this.install(JSON.parse(String(stored.value)) as Topology);
      } catch (e) {
        server.host.log?.("error", `stored cluster topology unreadable, running standalone: ${(e as Error).message}`);
      }
    }
  }

  get enabled(): boolean {
    return this.topology !== null;
  }

  get nodeName(): string {
    return this.server.host.nodeName;
  }

  /** The host:port clients are sent to for `node` (MOVED, ASK, CLUSTER replies). */
  endpoint(node: ClusterNode): string {
    return `${node.name}:${this.port}`;
  }

  /** The public port a forwarded request came in on; remembered (and persisted) when it changes. */
  notePort(port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535 || port === this.port) return;
    this.port = port;
    this.server.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, PORT_KEY, String(port));
  }

  // ---- topology ---------------------------------------------------------------------

  /**
   * A topology from the coordinator: adopted when its epoch is higher than the
   * one held (or none is held), ignored otherwise. A topology of the same
   * epoch still reconciles replication (the second step of a failover).
   */
  apply(topology: Topology, options: ApplyOptions = {}): ApplyResult {
    const reconcile = options.reconcile !== false;
    const problem = validateTopology(topology);
    if (problem) return { adopted: false, reason: `invalid topology: ${problem}`, status: this.status() };
    if (!topology.nodes.some((n) => n.name === this.nodeName)) {
      return { adopted: false, reason: `${this.nodeName} is not a node of cluster ${topology.name}`, status: this.status() };
    }
    const current = this.topology;
    if (current && current.name !== topology.name) {
      return { adopted: false, reason: `${this.nodeName} belongs to cluster ${current.name}`, status: this.status() };
    }
    if (current && topology.epoch <= current.epoch) {
      if (reconcile && topology.epoch === current.epoch) this.reconcile();
      return { adopted: false, reason: `epoch ${topology.epoch} is not newer than ${current.epoch}`, status: this.status() };
    }
    const now = this.server.host.now();
    this.server.sql.transaction(() => {
      this.server.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, TOPOLOGY_KEY, JSON.stringify(topology));
      this.server.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, ADOPTED_AT_KEY, String(now));
    });
    this.adoptedAt = now;
    this.install(topology);
    this.server.host.log?.("info", `adopted cluster ${topology.name} topology epoch ${topology.epoch} as ${this.myself!.role}`);
    if (reconcile) this.reconcile();
    this.redirectBlockedClients();
    return { adopted: true, status: this.status() };
  }

  private install(topology: Topology): void {
    this.topology = topology;
    this.map = new SlotMap(topology);
    this.myself = this.map.nodeByName(this.nodeName) ?? null;
    this.server.config.setDerived("cluster-enabled", "yes");
  }

  /**
   * Makes replication match this node's role: a replica follows its master
   * (by node name, inside the deployment), a master that was replicating is
   * promoted (REPLICAOF NO ONE: replid shifts so PSYNC continues).
   */
  reconcile(): void {
    const me = this.myself;
    const map = this.map;
    if (!me || !map) return;
    const replication = this.replication;
    if (me.role === "master") {
      if (replication.isReplica) replication.promote();
      return;
    }
    const master = me.masterId ? map.node(me.masterId) : undefined;
    if (!master) return;
    if (replication.link?.target === master.name) return;
    // A demoted master continues its own history (Redis's replicationCacheMasterUsingMyself):
    // its new master, promoted from its replica, knows it as replid2 and answers PSYNC with
    // +CONTINUE instead of a full sync.
    if (!replication.isReplica && replication.backlog.isActive) replication.ids.put("synced", "1");
    replication.follow(master.name, this.port);
  }

  status(): NodeClusterStatus {
    const link = this.replication.link;
    return {
      name: this.nodeName,
      epoch: this.topology?.epoch ?? 0,
      role: this.myself?.role ?? null,
      offset: this.replication.offset,
      linkUp: link ? link.isUp : this.myself?.role !== "replica",
      following: link?.target ?? null,
    };
  }

  // ---- redirection (Redis's getNodeByQuery) ------------------------------------------

  /**
   * Whether this node serves `command` for `client`, or the error that sends
   * the client elsewhere: CROSSSLOT, CLUSTERDOWN, MOVED, ASK, TRYAGAIN. EXEC
   * is checked over its whole queue. `asking` is the client's ASKING flag for
   * this command.
   */
  route(client: Client, command: Command, argv: readonly Uint8Array[], asking: boolean): string | null {
    const map = this.map;
    const me = this.myself;
    if (!map || !me) return null;
    const isExec = (command.parent ?? command).name === "exec";
    let queue: [Command, readonly Uint8Array[]][];
    if (isExec) {
      if (!client.multi) return null; // EXEC answers its own error
      queue = [];
      for (const queued of client.multi.queue) {
        const resolved = this.server.commands.resolve(queued);
        if (!("type" in resolved)) queue.push([resolved, queued]);
      }
    } else {
      queue = [[command, argv]];
    }

    let firstKey: Uint8Array | null = null;
    let slot = 0;
    let owner: ClusterNode | null = null;
    let multipleKeys = false;
    let migrating = false;
    let importing = false;
    let missing = 0;
    let existing = 0;
    let anyWrite = false;
    for (const [cmd, av] of queue) {
      if (cmd.isWrite) anyWrite = true;
      for (const position of keyPositions(cmd, av)) {
        const key = av[position];
        const keyslot = keySlot(key);
        if (firstKey === null) {
          firstKey = key;
          slot = keyslot;
          owner = map.owner(slot);
          if (!owner) return "CLUSTERDOWN Hash slot not served";
          const migration = map.migration(slot);
          if (migration && owner.id === me.id && migration.fromId === me.id) migrating = true;
          else if (migration && migration.toId === me.id) importing = true;
        } else if (!sameBytes(firstKey, key)) {
          if (keyslot !== slot) return "CROSSSLOT Keys in request don't hash to the same slot";
          multipleKeys = true;
        }
        if (migrating || importing) {
          if (this.keyExists(key)) existing++;
          else missing++;
        }
      }
    }
    if (!owner) return null; // no keys: every node serves it
    if (!map.complete) return "CLUSTERDOWN The cluster is down";

    if (migrating && missing > 0) {
      if (existing > 0) return "TRYAGAIN Multiple keys request during rehashing of slot";
      const target = map.node(map.migration(slot)!.toId)!;
      return `ASK ${slot} ${this.endpoint(target)}`;
    }
    if (importing && (asking || command.flags.has("asking"))) {
      if (multipleKeys && missing > 0) return "TRYAGAIN Multiple keys request during rehashing of slot";
      return null;
    }
    const isWrite = command.isWrite || (isExec && anyWrite);
    if (client.readonlyMode && !isWrite && me.role === "replica" && me.masterId === owner.id) return null;
    if (owner.id !== me.id) return `MOVED ${slot} ${this.endpoint(owner)}`;
    return null;
  }

  /** Redis's lookupKeyReadWithFlags(NOTOUCH|NOEXPIRE): an expired key counts as missing, nothing is deleted. */
  private keyExists(key: Uint8Array): boolean {
    const keyspace = this.server.keyspace;
    const record = keyspace.find(0, key);
    return record !== null && !keyspace.isExpired(record);
  }

  /**
   * After a topology change, clients blocked on keys this node no longer
   * serves are answered with the redirection (Redis's
   * clusterRedirectBlockedClientIfNeeded): CLUSTERDOWN when the cluster is
   * down, MOVED (or "Hash slot not served") when the slot is elsewhere.
   */
  redirectBlockedClients(): void {
    const map = this.map;
    const me = this.myself;
    if (!map || !me) return;
    for (const client of [...this.server.clients.values()]) {
      const blocked = client.blocked;
      if (!blocked) continue;
      const resolved = this.server.commands.resolve(blocked.argv);
      if ("type" in resolved) continue;
      const positions = keyPositions(resolved, blocked.argv);
      if (positions.length === 0) continue; // WAIT and other non-key waits stay
      if (!map.complete) {
        this.server.unblock(client, error("CLUSTERDOWN The cluster is down"));
        continue;
      }
      const slot = keySlot(blocked.argv[positions[0]]);
      let node = map.owner(slot);
      if (client.readonlyMode && !resolved.isWrite && me.role === "replica" && node && me.masterId === node.id) node = me;
      const importing = map.migration(slot)?.toId === me.id;
      if (node?.id === me.id || importing) continue;
      this.server.unblock(client, error(node ? `MOVED ${slot} ${this.endpoint(node)}` : "CLUSTERDOWN Hash slot not served"));
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
