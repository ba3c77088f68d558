import { SlotMap, type ClusterNode, type Topology } from "../../shared/cluster/topology.ts";

/**
 * Where sessions get the cluster's topology: a per-isolate cache in front of
 * the coordinator (ClusterDO `topology()`), so opening a session costs no
 * round trip while the cached copy is young, and a refresh (after MOVED/ASK)
 * is shared by every session that asks at the same time.
 */
export interface TopologySource {
  /** The newest topology this isolate knows, without asking (null before the first load). */
  current(): ClusterView | null;
  /** The cached view when it is younger than the cache's max age, else a fresh one. */
  get(): Promise<ClusterView>;
  /** Asks the coordinator now (concurrent calls share one request). */
  refresh(): Promise<ClusterView>;
}

/** A topology with its slot map and the derived lists the router needs, built once per topology. */
export class ClusterView {
  readonly map: SlotMap;
  /** Masters that own slots, ordered by their first slot (SCAN walks shards in this order). */
  readonly masters: readonly ClusterNode[];
  private readonly replicaLists = new Map<string, ClusterNode[]>();

  /** The cluster's identity: its node ids. A cluster created again (fresh storage) has other ids. */
  readonly identity: string;

  constructor(readonly topology: Topology) {
    this.identity = `${topology.name}/${topology.nodes.map((n) => n.id).sort().join(",")}`;
    this.map = new SlotMap(topology);
    const firstSlot = new Map<string, number>();
    for (const range of topology.slots) {
      const known = firstSlot.get(range.masterId);
      if (known === undefined || range.start < known) firstSlot.set(range.masterId, range.start);
    }
    this.masters = topology.nodes
      .filter((n) => n.role === "master" && firstSlot.has(n.id))
      .sort((a, b) => firstSlot.get(a.id)! - firstSlot.get(b.id)!);
    for (const node of topology.nodes) {
      if (node.role !== "replica" || !node.masterId || isFailing(node)) continue;
      let list = this.replicaLists.get(node.masterId);
      if (!list) this.replicaLists.set(node.masterId, (list = []));
      list.push(node);
    }
  }

  get epoch(): number {
    return this.topology.epoch;
  }

  /** Replicas of `masterId` that are not flagged as failing. */
  replicasOf(masterId: string): readonly ClusterNode[] {
    return this.replicaLists.get(masterId) ?? [];
  }

  /** The master commands without keys go to: the owner of slot 0 (the first shard). */
  get defaultMaster(): ClusterNode | null {
    return this.map.owner(0) ?? this.masters[0] ?? null;
  }
}

function isFailing(node: ClusterNode): boolean {
  return node.flags.some((f) => f === "fail" || f === "fail?" || f === "pfail" || f === "noaddr" || f === "handshake");
}

interface CacheEntry {
  view: ClusterView | null;
  fetchedAt: number;
  inflight: Promise<ClusterView> | null;
}

/** Cached views by cluster key; plain data, so they may outlive the request that fetched them. */
const cache = new Map<string, CacheEntry>();

/**
 * A TopologySource over `fetch` (the coordinator's RPC), cached per isolate
 * under `key`. A fetched topology never replaces a newer cached one (epochs
 * only grow), so a slow answer cannot roll the cache back.
 */
export function cachedTopologySource(key: string, fetch: () => Promise<Topology>, maxAgeMs = 5_000): TopologySource {
  let entry = cache.get(key);
  if (!entry) cache.set(key, (entry = { view: null, fetchedAt: 0, inflight: null }));
  const e = entry;
  const refresh = (): Promise<ClusterView> => {
    if (e.inflight) return e.inflight;
    const request = (async () => {
      try {
        const topology = await fetch();
        const fetched = new ClusterView(topology);
        // Epochs only grow, so an older epoch is a late answer and is ignored;
        // unless the cluster itself is another one (created again, e.g. on
        // fresh storage), whose epochs start over.
        if (!e.view || fetched.identity !== e.view.identity || topology.epoch > e.view.epoch || (topology.epoch === e.view.epoch && !sameShape(e.view.topology, topology))) {
          e.view = fetched;
        }
        e.fetchedAt = Date.now();
        return e.view!;
      } finally {
        e.inflight = null;
      }
    })();
    e.inflight = request;
    return request;
  };
  return {
    current: () => e.view,
    get: () => (e.view && Date.now() - e.fetchedAt < maxAgeMs ? Promise.resolve(e.view) : refresh()),
    refresh,
  };
}

/** A fixed topology (tests, tools). */
export function staticTopologySource(topology: Topology): TopologySource {
  const view = new ClusterView(topology);
  return {
    current: () => view,
    get: () => Promise.resolve(view),
    refresh: () => Promise.resolve(view),
  };
}

function sameShape(a: Topology, b: Topology): boolean {
  return JSON.stringify([a.nodes, a.slots, a.migrations]) === JSON.stringify([b.nodes, b.slots, b.migrations]);
}

/** Forgets cached topologies (tests). */
export function clearTopologyCache(): void {
  cache.clear();
}
