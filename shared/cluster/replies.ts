import { array, bulk, integer, map, type Reply } from "../resp/reply.ts";
import type { Replication } from "../replication/index.ts";
import type { ClusterState } from "./node-state.ts";
import { SLOT_COUNT } from "./slot.ts";
import { rangesFromOwners, ownersOf, shardsOf, type ClusterNode, type Topology } from "./topology.ts";

/**
 * CLUSTER INFO / NODES / SLOTS / SHARDS / REPLICAS in Redis 7.0's formats,
 * with hostnames as `cluster-preferred-endpoint-type hostname` prints them.
 *
 * tidekv nodes have no IP address of their own: clients reach a node by its
 * name through the public endpoint (/node/NAME), so the name is the node's
 * hostname and also fills the fields Redis fills with an IP; the port is the
 * public endpoint's; the cluster bus port is 0 (there is no bus: the topology
 * comes from the coordinator).
 */

/** Flags as CLUSTER NODES prints them (representClusterNodeFlags order). */
const FLAG_ORDER = ["fail?", "fail", "handshake", "noaddr", "nofailover"];

function isFailed(node: ClusterNode): boolean {
  return node.flags.includes("fail");
}

/** Redis's nodeEpoch(): a replica shows its master's configEpoch. */
function nodeEpoch(topology: Topology, node: ClusterNode): number {
  if (node.role === "replica" && node.masterId) {
    const master = topology.nodes.find((n) => n.id === node.masterId);
    if (master) return master.configEpoch;
  }
  return node.configEpoch;
}

/** One CLUSTER NODES line (clusterGenNodeDescription), without the newline. */
export function nodeLine(state: ClusterState, node: ClusterNode): string {
  const topology = state.topology!;
  const me = state.myself;
  const flags: string[] = [];
  if (me && node.id === me.id) flags.push("myself");
  flags.push(node.role === "master" ? "master" : "slave");
  for (const flag of FLAG_ORDER) if (node.flags.includes(flag)) flags.push(flag);
  const link = me && node.id === me.id ? "connected" : isFailed(node) ? "disconnected" : "connected";
  let line =
    `${node.id} ${node.name}:${state.port}@0,${node.name} ${flags.join(",")} ${node.masterId ?? "-"} ` +
    `0 ${state.adoptedAt} ${nodeEpoch(topology, node)} ${link}`;
  if (node.role === "master") {
    const owners = ownersOf(topology);
    for (const range of rangesFromOwners(owners)) {
      if (range.masterId !== node.id) continue;
      line += range.start === range.end ? ` ${range.start}` : ` ${range.start}-${range.end}`;
    }
  }
  if (me && node.id === me.id) {
    for (const m of topology.migrations) {
      if (m.fromId === me.id) line += ` [${m.slot}->-${m.toId}]`;
      else if (m.toId === me.id) line += ` [${m.slot}-<-${m.fromId}]`;
    }
  }
  return line;
}

/** CLUSTER NODES: one line per node, each ending in "\n". */
export function clusterNodes(state: ClusterState): string {
  return state.topology!.nodes.map((node) => `${nodeLine(state, node)}\n`).join("");
}

/** CLUSTER INFO (its lines end in CRLF, as Redis's). */
export function clusterInfo(state: ClusterState): string {
  const topology = state.topology!;
  const owners = ownersOf(topology);
  const byId = new Map(topology.nodes.map((n) => [n.id, n]));
  let assigned = 0;
  let failed = 0;
  const serving = new Set<string>();
  for (const owner of owners) {
    if (owner === null) continue;
    assigned++;
    serving.add(owner);
    if (isFailed(byId.get(owner)!)) failed++;
  }
  const me = state.myself;
  const myEpoch = me ? nodeEpoch(topology, me) : 0;
  const ok = assigned === SLOT_COUNT && failed === 0;
  return [
    `cluster_state:${ok ? "ok" : "fail"}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${assigned - failed}`,
    "cluster_slots_pfail:0",
    `cluster_slots_fail:${failed}`,
    `cluster_known_nodes:${topology.nodes.length}`,
    `cluster_size:${serving.size}`,
    `cluster_current_epoch:${topology.epoch}`,
    `cluster_my_epoch:${myEpoch}`,
    "cluster_stats_messages_sent:0",
    "cluster_stats_messages_received:0",
    "total_cluster_links_buffer_limit_exceeded:0",
  ].map((line) => `${line}\r\n`).join("");
}

/** A node in CLUSTER SLOTS: endpoint (the hostname), port, id, then {ip}. */
function slotsNodeEntry(state: ClusterState, node: ClusterNode): Reply {
  return array([bulk(node.name), integer(state.port), bulk(node.id), map([[bulk("ip"), bulk(node.name)]])]);
}

/** CLUSTER SLOTS: contiguous ranges in slot order, master first, then its replicas that are not failed. */
export function clusterSlots(state: ClusterState): Reply {
  const topology = state.topology!;
  const byId = new Map(topology.nodes.map((n) => [n.id, n]));
  const entries: Reply[] = [];
  for (const range of rangesFromOwners(ownersOf(topology))) {
    const master = byId.get(range.masterId)!;
    const replicas = topology.nodes.filter((n) => n.masterId === master.id && !isFailed(n));
    entries.push(
      array([integer(range.start), integer(range.end), slotsNodeEntry(state, master), ...replicas.map((r) => slotsNodeEntry(state, r))]),
    );
  }
  return array(entries);
}

/**
 * The replication offsets this node knows: its own, and those its attached
 * replicas acknowledged. Other nodes' offsets travel by gossip in Redis; here
 * there is none, so they show as 0.
 */
function knownOffsets(state: ClusterState, replication: Replication): Map<string, number> {
  const offsets = new Map<string, number>();
  for (const replica of replication.master.replicas) offsets.set(replica.name, replica.ackOffset);
  offsets.set(state.nodeName, replication.offset);
  return offsets;
}

/** CLUSTER SHARDS: per shard its slot ranges (flat start/end integers) and its nodes. */
export function clusterShards(state: ClusterState, replication: Replication): Reply {
  const topology = state.topology!;
  const offsets = knownOffsets(state, replication);
  const owners = ownersOf(topology);
  const ranges = rangesFromOwners(owners);
  const shards: Reply[] = [];
  for (const shard of shardsOf(topology)) {
    const slots: Reply[] = [];
    for (const range of ranges) if (range.masterId === shard.master.id) slots.push(integer(range.start), integer(range.end));
    const nodes = [shard.master, ...shard.replicas].map((node) => {
      const offset = offsets.get(node.name) ?? 0;
      const health = isFailed(node) ? "fail" : "online";
      return map([
        [bulk("id"), bulk(node.id)],
        [bulk("port"), integer(state.port)],
        [bulk("ip"), bulk(node.name)],
        [bulk("endpoint"), bulk(node.name)],
        [bulk("hostname"), bulk(node.name)],
        [bulk("role"), bulk(node.role === "master" ? "master" : "replica")],
        [bulk("replication-offset"), integer(offset)],
        [bulk("health"), bulk(health)],
      ]);
    });
    shards.push(map([[bulk("slots"), array(slots)], [bulk("nodes"), array(nodes)]]));
  }
  return array(shards);
}
