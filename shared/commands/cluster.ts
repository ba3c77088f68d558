import { array, bulk, EMPTY_ARRAY, error, integer, OK, verbatim, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { helpReply } from "../engine/command-docs.ts";
import { Errors } from "../engine/errors.ts";
import { parseInt64 } from "../util/numbers.ts";
import type { ClusterState } from "../cluster/node-state.ts";
import { clusterInfo, clusterNodes, clusterShards, clusterSlots, nodeLine } from "../cluster/replies.ts";
import { keySlot, SLOT_COUNT } from "../cluster/slot.ts";
import type { HandlerTable } from "./spec.ts";
import { inCluster } from "./cluster-mode.ts";
import { failover, getSlotMigrations, migrateSlots } from "./cluster-admin.ts";
import { countKeysOfSlot, keysInSlot } from "../cluster/migrate-keys.ts";

/** Redis 7.0's CLUSTER HELP lines for the subcommands a tidekv node answers (plus 7.2's MYSHARDID). */
const CLUSTER_HELP = [
  "COUNTKEYSINSLOT <slot>",
  "    Return the number of keys in <slot>.",
  "GETKEYSINSLOT <slot> <count>",
  "    Return key names stored by current node in a slot.",
  "INFO",
  "    Return information about the cluster.",
  "KEYSLOT <key>",
  "    Return the hash slot for <key>.",
  "MYID",
  "    Return the node id.",
  "MYSHARDID",
  "    Return the node's shard id.",
  "NODES",
  "    Return cluster configuration seen by node. Output format:",
  "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
  "REPLICAS <node-id>",
  "    Return <node-id> replicas.",
  "SLOTS",
  "    Return information about slots range mappings. Each range is made of:",
  "    start, end, master and replicas IP addresses, ports and ids",
  "SHARDS",
  "    Return information about slot range mappings and the nodes associated with them.",
  "LINKS",
  "    Return information about all network links between this node and its peers.",
  "    Output format is an array where each array element is a map containing attributes of a link",
  "FAILOVER [FORCE|TAKEOVER]",
  "    Promote current replica node to being a master.",
  "MIGRATESLOTS SLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...] NODE <node-id> [SLOTSRANGE ... NODE <node-id> ...]",
  "    Move the slots, with their keys, from this node to the given node.",
  "GETSLOTMIGRATIONS",
  "    Return the slot migrations started on this node and their state.",
];

function replicasOf(call: CommandCall, state: ClusterState): Reply {
  const id = call.str(2);
  const node = state.topology!.nodes.find((n) => n.id === id);
  if (!node) return error(`ERR Unknown node ${id}`);
  if (node.role !== "master") return error("ERR The specified node is not a master");
  return array(state.topology!.nodes.filter((n) => n.masterId === node.id).map((n) => bulk(nodeLine(state, n))));
}

/** CLUSTER ..., READONLY, READWRITE, ASKING. */
export const clusterCommands: HandlerTable = {
  cluster: {
    subcommands: {
      info: inCluster((_call, state) => verbatim(clusterInfo(state))),
      myid: inCluster((_call, state) => bulk(state.myself!.id)),
      myshardid: inCluster((_call, state) => bulk(state.myself!.shardId)),
      nodes: inCluster((_call, state) => verbatim(clusterNodes(state))),
      slots: inCluster((_call, state) => clusterSlots(state)),
      shards: inCluster((call, state) => clusterShards(state, call.server.replication!)),
      links: inCluster(() => EMPTY_ARRAY),
      replicas: inCluster(replicasOf),
      slaves: inCluster(replicasOf),
      keyslot: inCluster((call) => integer(keySlot(call.argv[2]))),
      countkeysinslot: inCluster((call) => {
        const slot = parseInt64(call.argv[2]);
        if (slot === null) return error(Errors.notInteger);
        if (slot < 0n || slot >= BigInt(SLOT_COUNT)) return error("ERR Invalid slot");
        return integer(countKeysOfSlot(call.server.sql, Number(slot)));
      }),
      getkeysinslot: inCluster((call) => {
        const slot = parseInt64(call.argv[2]);
        if (slot === null) return error(Errors.notInteger);
        const count = parseInt64(call.argv[3]);
        if (count === null) return error(Errors.notInteger);
        if (count < 0n || slot < 0n || slot >= BigInt(SLOT_COUNT)) return error("ERR Invalid slot or number of keys");
        const limit = count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
        return array(keysInSlot(call.server.sql, Number(slot), limit).map((key) => bulk(key)));
      }),
      help: inCluster(() => helpReply("cluster", CLUSTER_HELP)),
      failover,
      migrateslots: migrateSlots,
      getslotmigrations: getSlotMigrations,
    },
  },
  readonly: inCluster((call) => {
    call.client.readonlyMode = true;
    return OK;
  }),
  readwrite: inCluster((call) => {
    call.client.readonlyMode = false;
    return OK;
  }),
  asking: inCluster((call) => {
    call.client.asking = true;
    return OK;
  }),
};
