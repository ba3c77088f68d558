import { SLOT_COUNT } from "./slot.ts";

/**
 * The cluster's shape, as the coordinator keeps it and every node holds a copy
 * of it: nodes, the shards they form, and which shard serves each slot. A
 * topology is versioned by `epoch` (Redis's currentEpoch); a node that learns a
 * topology with a higher epoch adopts it.
 */
export interface ClusterNode {
  /** 40 hex characters, stable for the node's life (Redis node id). */
  readonly id: string;
  /** The Durable Object name; also the hostname in MOVED/ASK and CLUSTER replies. */
  readonly name: string;
  /** 40 hex characters shared by a master and its replicas (CLUSTER MYSHARDID). */
  readonly shardId: string;
  readonly role: "master" | "replica";
  /** For a replica: its master's id. */
  readonly masterId: string | null;
  /** Redis's configEpoch of the node (the epoch at which it last claimed its slots). */
  readonly configEpoch: number;
  /** Extra flags as CLUSTER NODES prints them (fail, pfail, noaddr, ...). */
  readonly flags: readonly string[];
}

/** A contiguous range of slots served by one master. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly masterId: string;
}

/** A slot being moved: ASK redirections send clients from `from` to `to` while keys move. */
export interface SlotMigration {
  readonly slot: number;
  readonly fromId: string;
  readonly toId: string;
}

export interface Topology {
  readonly name: string;
  readonly epoch: number;
  readonly nodes: readonly ClusterNode[];
  readonly slots: readonly SlotRange[];
  readonly migrations: readonly SlotMigration[];
}

/** Slot -> master id lookups over a topology, built once per topology. */
export class SlotMap {
  private readonly owners: (string | null)[] = new Array(SLOT_COUNT).fill(null);
  private readonly byId = new Map<string, ClusterNode>();

  constructor(readonly topology: Topology) {
    for (const node of topology.nodes) this.byId.set(node.id, node);
    for (const range of topology.slots) for (let s = range.start; s <= range.end; s++) this.owners[s] = range.masterId;
  }

  /** The master serving `slot`, or null when the slot is unassigned. */
  owner(slot: number): ClusterNode | null {
    const id = this.owners[slot];
    return id ? this.byId.get(id) ?? null : null;
  }

  node(id: string): ClusterNode | undefined {
    return this.byId.get(id);
  }

  nodeByName(name: string): ClusterNode | undefined {
    return this.topology.nodes.find((n) => n.name === name);
  }

  replicasOf(masterId: string): ClusterNode[] {
    return this.topology.nodes.filter((n) => n.masterId === masterId);
  }

  masters(): ClusterNode[] {
    return this.topology.nodes.filter((n) => n.role === "master");
  }

  migration(slot: number): SlotMigration | undefined {
    return this.topology.migrations.find((m) => m.slot === slot);
  }

  private completeCache: boolean | null = null;

  /** Whether every slot is served (cluster_state:ok). Computed once: routing asks on every command. */
  get complete(): boolean {
    if (this.completeCache === null) {
      let all = true;
      for (let s = 0; s < SLOT_COUNT; s++) {
        if (this.owners[s] === null) {
          all = false;
          break;
        }
      }
      this.completeCache = all;
    }
    return this.completeCache;
  }
}

/** Splits 0..16383 into `shards` contiguous ranges as redis-cli --cluster create does. */
export function evenSlotRanges(shards: number): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  const per = SLOT_COUNT / shards;
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < shards; i++) {
    let last = Math.round(cursor + per - 1);
    if (last > SLOT_COUNT - 1 || i === shards - 1) last = SLOT_COUNT - 1;
    ranges.push({ start: first, end: last });
    first = last + 1;
    cursor += per;
  }
  return ranges;
}

// ---- names ------------------------------------------------------------------

/** The cluster `npm start` creates on first use (and the one `/resp` serves). */
export const DEFAULT_CLUSTER = "default";

/** Cluster names become part of node names, which are URL path segments (/node/NAME). */
const CLUSTER_NAME = /^[A-Za-z0-9._:-]{1,100}$/;
const NODE_NAME_PATTERN = /^([A-Za-z0-9._:-]+)-s(\d+)-(?:m|r(\d+))$/;

export function isValidClusterName(name: string): boolean {
  return CLUSTER_NAME.test(name);
}

/**
 * Node names of a cluster: `<cluster>-s<N>-m` for the node created as shard
 * N's master, `<cluster>-s<N>-r<K>` (K from 1) for its replicas; shards count
 * from 0. A name is the node's Durable Object name and never changes, so after
 * a failover `-m` names a replica and some `-r<K>` the master: the suffix says
 * how a node started, its role is in the topology.
 */
export function masterNodeName(cluster: string, shard: number): string {
  return `${cluster}-s${shard}-m`;
}

export function replicaNodeName(cluster: string, shard: number, replica: number): string {
  return `${cluster}-s${shard}-r${replica}`;
}

/** The parts of a cluster node name, or null for a name outside the scheme. */
export function parseNodeName(name: string): { cluster: string; shard: number; replica: number } | null {
  const match = NODE_NAME_PATTERN.exec(name);
  if (!match) return null;
  return { cluster: match[1], shard: Number(match[2]), replica: match[3] === undefined ? 0 : Number(match[3]) };
}

// ---- shapes -------------------------------------------------------------------

/** A shard as the topology implies it: its master and replicas, in topology order. */
export interface Shard {
  readonly index: number;
  readonly shardId: string;
  readonly master: ClusterNode;
  readonly replicas: readonly ClusterNode[];
}

/** The shards of a topology, in the order their nodes first appear (creation order). */
export function shardsOf(topology: Topology): Shard[] {
  const order: string[] = [];
  const members = new Map<string, ClusterNode[]>();
  for (const node of topology.nodes) {
    let list = members.get(node.shardId);
    if (!list) {
      members.set(node.shardId, (list = []));
      order.push(node.shardId);
    }
    list.push(node);
  }
  const shards: Shard[] = [];
  for (const shardId of order) {
    const nodes = members.get(shardId)!;
    const master = nodes.find((n) => n.role === "master");
    if (!master) continue;
    shards.push({ index: shards.length, shardId, master, replicas: nodes.filter((n) => n !== master) });
  }
  return shards;
}

/** The contiguous ranges of an owner-per-slot array (null = unassigned), in slot order. */
export function rangesFromOwners(owners: readonly (string | null)[]): SlotRange[] {
  const ranges: SlotRange[] = [];
  let start = 0;
  for (let slot = 1; slot <= owners.length; slot++) {
    if (slot < owners.length && owners[slot] === owners[start]) continue;
    const owner = owners[start];
    if (owner !== null) ranges.push({ start, end: slot - 1, masterId: owner });
    start = slot;
  }
  return ranges;
}

/** One owner (master id or null) per slot. */
export function ownersOf(topology: Topology): (string | null)[] {
  const owners: (string | null)[] = new Array(SLOT_COUNT).fill(null);
  for (const range of topology.slots) for (let s = range.start; s <= range.end; s++) owners[s] = range.masterId;
  return owners;
}

/** The slot ranges served by `masterId`, merged and in slot order. */
export function rangesOf(topology: Topology, masterId: string): { start: number; end: number }[] {
  return rangesFromOwners(ownersOf(topology))
    .filter((r) => r.masterId === masterId)
    .map(({ start, end }) => ({ start, end }));
}

/**
 * A topology's consistency: 40-hex ids, unique ids and names, every replica's
 * master a master of its shard, one master per shard, slot ranges in bounds,
 * disjoint and owned by masters, migrations between masters. Returns the
 * first problem found, or null.
 */
export function validateTopology(topology: Topology): string | null {
  if (!topology || typeof topology !== "object") return "not a topology";
  if (!isValidClusterName(topology.name)) return "invalid cluster name";
  if (!Number.isSafeInteger(topology.epoch) || topology.epoch < 0) return "invalid epoch";
  const ids = new Map<string, ClusterNode>();
  const names = new Set<string>();
  const mastersByShard = new Map<string, string>();
  for (const node of topology.nodes) {
    if (!HEX40.test(node.id) || !HEX40.test(node.shardId)) return `node ${node.name}: ids must be 40 hex characters`;
    if (ids.has(node.id)) return `duplicate node id ${node.id}`;
    if (names.has(node.name)) return `duplicate node name ${node.name}`;
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(node.name)) return `invalid node name ${node.name}`;
    if (node.role !== "master" && node.role !== "replica") return `node ${node.name}: invalid role`;
    if (!Number.isSafeInteger(node.configEpoch) || node.configEpoch < 0) return `node ${node.name}: invalid configEpoch`;
    if (!Array.isArray(node.flags)) return `node ${node.name}: invalid flags`;
    ids.set(node.id, node);
    names.add(node.name);
    if (node.role === "master") {
      if (node.masterId !== null) return `master ${node.name} has a master`;
      if (mastersByShard.has(node.shardId)) return `shard ${node.shardId} has two masters`;
      mastersByShard.set(node.shardId, node.id);
    }
  }
  for (const node of topology.nodes) {
    if (node.role !== "replica") continue;
    const master = node.masterId === null ? undefined : ids.get(node.masterId);
    if (!master || master.role !== "master") return `replica ${node.name}: its master is not a master`;
    if (master.shardId !== node.shardId) return `replica ${node.name}: its master is in another shard`;
  }
  const seen = new Uint8Array(SLOT_COUNT);
  for (const range of topology.slots) {
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end >= SLOT_COUNT || range.start > range.end) {
      return `invalid slot range ${range.start}-${range.end}`;
    }
    if (ids.get(range.masterId)?.role !== "master") return `slots ${range.start}-${range.end}: owner is not a master`;
    for (let s = range.start; s <= range.end; s++) {
      if (seen[s]) return `slot ${s} is assigned twice`;
      seen[s] = 1;
    }
  }
  const migrating = new Set<number>();
  for (const m of topology.migrations) {
    if (!Number.isInteger(m.slot) || m.slot < 0 || m.slot >= SLOT_COUNT) return `invalid migration slot ${m.slot}`;
    if (migrating.has(m.slot)) return `slot ${m.slot} migrates twice`;
    migrating.add(m.slot);
    if (ids.get(m.fromId)?.role !== "master" || ids.get(m.toId)?.role !== "master" || m.fromId === m.toId) {
      return `slot ${m.slot}: a migration goes between two masters`;
    }
  }
  return null;
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * A new cluster: `shards` masters over evenly split slots (as
 * `redis-cli --cluster create` splits them), each with `replicas` replicas.
 * Masters get configEpochs 1..shards and the cluster's epoch is `shards`.
 */
export function createTopology(name: string, shards: number, replicas: number, randomHex: (length: number) => string): Topology {
  if (!isValidClusterName(name)) throw new Error(`invalid cluster name '${name}'`);
  if (!Number.isInteger(shards) || shards < 1 || shards > 1000) throw new Error("shards must be an integer from 1 to 1000");
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 10) throw new Error("replicas must be an integer from 0 to 10");
  const nodes: ClusterNode[] = [];
  const slots: SlotRange[] = [];
  const ranges = evenSlotRanges(shards);
  for (let s = 0; s < shards; s++) {
    const shardId = randomHex(40);
    const master: ClusterNode = {
      id: randomHex(40),
      name: masterNodeName(name, s),
      shardId,
      role: "master",
      masterId: null,
      configEpoch: s + 1,
      flags: [],
    };
    nodes.push(master);
    for (let r = 1; r <= replicas; r++) {
      nodes.push({ id: randomHex(40), name: replicaNodeName(name, s, r), shardId, role: "replica", masterId: master.id, configEpoch: 0, flags: [] });
    }
    slots.push({ ...ranges[s], masterId: master.id });
  }
  return { name, epoch: shards, nodes, slots, migrations: [] };
}

/**
 * The topology after promoting `replicaId` to master of its shard (a
 * failover): a new epoch, which becomes the promoted node's configEpoch; the
 * old master and the shard's other replicas replicate the new master; the old
 * master's slots and migrations now name the new one.
 */
export function promoteReplica(topology: Topology, replicaId: string): Topology {
  const candidate = topology.nodes.find((n) => n.id === replicaId);
  if (!candidate || candidate.role !== "replica" || candidate.masterId === null) throw new Error("not a replica");
  const oldMasterId = candidate.masterId;
  const epoch = topology.epoch + 1;
  const nodes = topology.nodes.map((node): ClusterNode => {
    if (node.id === replicaId) return { ...node, role: "master", masterId: null, configEpoch: epoch };
    if (node.shardId !== candidate.shardId) return node;
    return { ...node, role: "replica", masterId: replicaId };
  });
  const rename = (id: string) => (id === oldMasterId ? replicaId : id);
  return {
    name: topology.name,
    epoch,
    nodes,
    slots: topology.slots.map((r) => ({ ...r, masterId: rename(r.masterId) })),
    migrations: topology.migrations.map((m) => ({ ...m, fromId: rename(m.fromId), toId: rename(m.toId) })),
  };
}
