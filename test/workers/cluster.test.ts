/**
 * Cluster mode on a node, inside workerd: hash slots, redirections (MOVED,
 * ASK, CROSSSLOT, CLUSTERDOWN, TRYAGAIN), ASKING/READONLY/READWRITE, db 0
 * only, and the CLUSTER subcommands in Redis 7.0's formats (checked field by
 * field against what redis-server 7.0 with cluster-preferred-endpoint-type
 * hostname prints). Clusters come from the coordinator (3 shards x 1 replica).
 *
 * The test client connects to http://tidekv.test, so the public port nodes
 * learn (and print in MOVED/ASK and CLUSTER replies) is 80.
 */
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ClusterState } from "../../shared/cluster/node-state.ts";
import { commandTable } from "../../shared/commands/index.ts";
import type { NodeHost } from "../../shared/engine/host.ts";
import { Server } from "../../shared/engine/server.ts";
import { Replication } from "../../shared/replication/index.ts";
import type { Sql } from "../../shared/store/sql.ts";
import type { Reply } from "../../shared/resp/index.ts";
import type { ClusterNode, Topology } from "../../shared/cluster/topology.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { coordinator, createCluster, eventually, field, linkUp, nodeStub, uniqueCluster } from "./cluster-support.ts";

const PORT = 80;
const HEX40 = /^[0-9a-f]{40}$/;
/** clusterGenNodeDescription: id ip:port@cport,hostname flags master ping pong epoch link slots... */
const NODE_LINE =
  /^([0-9a-f]{40}) ([^ :]+):(\d+)@(\d+),(\S+) ((?:myself,)?(?:master|slave)(?:,[a-z?]+)*) ([0-9a-f]{40}|-) (\d+) (\d+) (\d+) (connected|disconnected)((?: \d+(?:-\d+)?)*)((?: \[\d+-[<>]-[0-9a-f]{40}\])*)$/;

function nodeNamed(topology: Topology, name: string): ClusterNode {
  const node = topology.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
}

function parseNodeLine(line: string) {
  const m = NODE_LINE.exec(line);
  if (!m) throw new Error(`not a CLUSTER NODES line: ${JSON.stringify(line)}`);
  return {
    id: m[1],
    ip: m[2],
    port: Number(m[3]),
    cport: Number(m[4]),
    hostname: m[5],
    flags: m[6],
    master: m[7],
    pingSent: Number(m[8]),
    pongReceived: Number(m[9]),
    epoch: Number(m[10]),
    link: m[11],
    slots: m[12].trim() === "" ? [] : m[12].trim().split(" "),
    migrations: m[13].trim() === "" ? [] : m[13].trim().split(" "),
  };
}

describe("a standalone node", () => {
  it("has cluster support disabled", async () => {
    const c = await NodeClient.node(uniqueNode());
    const disabled = { error: "ERR This instance has cluster support disabled" };
    for (const argv of [["CLUSTER", "INFO"], ["CLUSTER", "KEYSLOT", "foo"], ["CLUSTER", "HELP"], ["CLUSTER", "NODES"], ["READONLY"], ["READWRITE"], ["ASKING"]]) {
      expect(plain(await c.call(...argv))).toEqual(disabled);
    }
    expect(plain(await c.call("CLUSTER", "nope"))).toEqual({ error: "ERR unknown subcommand 'nope'. Try CLUSTER HELP." });
    expect(plain(await c.call("CLUSTER"))).toEqual({ error: "ERR wrong number of arguments for 'cluster' command" });
    expect(plain(await c.call("SELECT", "1"))).toBe("OK");
    expect(plain(await c.call("CONFIG", "GET", "cluster-enabled"))).toEqual(["cluster-enabled", "no"]);
    expect(plain(await c.call("SET", "foo", "1"))).toBe("OK");
    c.close();
  });
});

describe("cluster mode on a node", { timeout: 60_000 }, () => {
  let name: string;
  let topology: Topology;
  let m0: NodeClient; // master of shard 0: slots 0-5460
  let m1: NodeClient; // master of shard 1: slots 5461-10922
  let r0: NodeClient; // replica of shard 0

  beforeAll(async () => {
    name = uniqueCluster();
    topology = await createCluster(name);
    m0 = await NodeClient.node(`${name}-s0-m`);
    m1 = await NodeClient.node(`${name}-s1-m`);
    r0 = await NodeClient.node(`${name}-s0-r1`);
  });

  it("hashes keys to slots as Redis Cluster does (CLUSTER KEYSLOT)", async () => {
    const vectors: [string, number][] = [
      ["foo", 12182],
      ["bar", 5061],
      ["hello", 866],
      ["{user1000}.following", 3443],
      ["{user1000}.followers", 3443],
      ["foo{{bar}}zap", 4015], // hashes "{bar"
      ["foo{bar}{zap}", 5061], // hashes "bar"
      ["", 0],
    ];
    for (const [key, slot] of vectors) expect(plain(await m0.call("CLUSTER", "KEYSLOT", key))).toBe(slot);
    // An empty tag hashes the whole key.
    const whole = plain(await m0.call("CLUSTER", "KEYSLOT", "foo{}{bar}"));
    expect(whole).not.toBe(plain(await m0.call("CLUSTER", "KEYSLOT", "bar")));
    expect(whole).toBe(plain(await m0.call("CLUSTER", "KEYSLOT", "foo{}{bar}")));
    expect(whole).toBe(8363);
    expect(plain(await m0.call("CLUSTER", "KEYSLOT"))).toEqual({ error: "ERR wrong number of arguments for 'cluster|keyslot' command" });
  });

  it("reports cluster mode in CONFIG and INFO", async () => {
    expect(plain(await m0.call("CONFIG", "GET", "cluster-enabled"))).toEqual(["cluster-enabled", "yes"]);
    const text = plain(await m0.call("INFO", "cluster")) as string;
    expect(field(text, "cluster_enabled")).toBe("1");
    expect(field(plain(await m0.call("INFO", "server")) as string, "redis_mode")).toBe("cluster");
  });

  it("answers MOVED with the owner's name and the public port", async () => {
    expect(plain(await m0.call("GET", "foo"))).toEqual({ error: `MOVED 12182 ${name}-s2-m:${PORT}` });
    expect(plain(await m1.call("SET", "bar", "1"))).toEqual({ error: `MOVED 5061 ${name}-s0-m:${PORT}` });
    expect(plain(await m0.call("GET", "k13474"))).toEqual({ error: `MOVED 16000 ${name}-s2-m:${PORT}` });
  });

  it("serves keys of its own slots and refuses others", async () => {
    // "hello" (866) is shard 0's, "bar" (5061) too; "foo" (12182) is shard 2's.
    expect(plain(await m0.call("SET", "hello", "world"))).toBe("OK");
    expect(plain(await m0.call("GET", "hello"))).toBe("world");
    expect(plain(await m1.call("GET", "hello"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await m0.call("MGET", "hello", "{hello}x"))).toEqual(["world", null]);
    // The same key twice is not "multiple keys".
    expect(plain(await m0.call("MGET", "hello", "hello"))).toEqual(["world", "world"]);
    // Keyless commands run anywhere.
    expect(plain(await m1.call("PING"))).toBe("PONG");
    expect(plain(await m1.call("DBSIZE"))).toBe(0);
  });

  it("answers CROSSSLOT for keys of different slots, before any MOVED", async () => {
    const crossslot = { error: "CROSSSLOT Keys in request don't hash to the same slot" };
    expect(plain(await m0.call("MGET", "hello", "foo"))).toEqual(crossslot);
    expect(plain(await m0.call("MSET", "a", "1", "b", "2"))).toEqual(crossslot);
    // Neither key is this node's: still CROSSSLOT (Redis checks slots while collecting keys).
    expect(plain(await m1.call("DEL", "hello", "foo"))).toEqual(crossslot);
    // Different keys with one hash tag share a slot.
    expect(plain(await m0.call("MSET", "{hello}a", "1", "{hello}b", "2"))).toBe("OK");
  });

  it("allows only db 0 (SELECT n>0 fails, also inside MULTI)", async () => {
    const c = await NodeClient.node(`${name}-s0-m`);
    expect(plain(await c.call("SELECT", "1"))).toEqual({ error: "ERR SELECT is not allowed in cluster mode" });
    expect(plain(await c.call("SELECT", "-1"))).toEqual({ error: "ERR SELECT is not allowed in cluster mode" });
    expect(plain(await c.call("SELECT", "x"))).toEqual({ error: "ERR value is not an integer or out of range" });
    expect(plain(await c.call("SELECT", "0"))).toBe("OK");
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("SELECT", "1"))).toBe("QUEUED");
    expect(plain(await c.call("EXEC"))).toEqual([{ error: "ERR SELECT is not allowed in cluster mode" }]);
    expect(plain(await c.call("SWAPDB", "0", "1"))).toEqual({ error: "ERR SWAPDB is not allowed in cluster mode" });
    c.close();
  });

  it("flags a transaction whose command is redirected, and discards an EXEC across slots", async () => {
    const c = await NodeClient.node(`${name}-s0-m`);
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("SET", "hello", "1"))).toBe("QUEUED");
    expect(plain(await c.call("SET", "foo", "1"))).toEqual({ error: `MOVED 12182 ${name}-s2-m:${PORT}` });
    expect(plain(await c.call("EXEC"))).toEqual({ error: "EXECABORT Transaction discarded because of previous errors." });
    expect(plain(await c.call("GET", "hello"))).toBe("world");

    // Each command alone is served here, but together they span slots 866 and 5061.
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("GET", "hello"))).toBe("QUEUED");
    expect(plain(await c.call("GET", "bar"))).toBe("QUEUED");
    expect(plain(await c.call("EXEC"))).toEqual({ error: "CROSSSLOT Keys in request don't hash to the same slot" });
    // The transaction was discarded.
    expect(plain(await c.call("EXEC"))).toEqual({ error: "ERR EXEC without MULTI" });

    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("SET", "{hello}a", "1"))).toBe("QUEUED");
    expect(plain(await c.call("GET", "hello"))).toBe("QUEUED");
    expect(plain(await c.call("EXEC"))).toEqual(["OK", "world"]);
    c.close();
  });

  it("serves reads on a replica only after READONLY, and never writes", async () => {
    await linkUp(r0);
    await m0.call("SET", "{hello}ro", "v1");
    const c = await NodeClient.node(`${name}-s0-r1`);
    expect(plain(await c.call("GET", "{hello}ro"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await c.call("READONLY"))).toBe("OK");
    await eventually(async () => plain(await c.call("GET", "{hello}ro")) === "v1", "the write reaches the replica");
    expect(plain(await c.call("MGET", "{hello}ro", "{hello}none"))).toEqual(["v1", null]);
    // Writes go to the master, and so do reads of other shards' slots.
    expect(plain(await c.call("SET", "{hello}ro", "x"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await c.call("GET", "foo"))).toEqual({ error: `MOVED 12182 ${name}-s2-m:${PORT}` });
    // A transaction of reads is served; a write in it is redirected.
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("GET", "{hello}ro"))).toBe("QUEUED");
    expect(plain(await c.call("EXEC"))).toEqual(["v1"]);
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("GET", "{hello}ro"))).toBe("QUEUED");
    expect(plain(await c.call("INCR", "{hello}n"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await c.call("EXEC"))).toEqual({ error: "EXECABORT Transaction discarded because of previous errors." });
    expect(plain(await c.call("READWRITE"))).toBe("OK");
    expect(plain(await c.call("GET", "{hello}ro"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    // Keyless writes on a replica get the replica's own error.
    expect(plain(await c.call("FLUSHALL"))).toEqual({ error: "READONLY You can't write against a read only replica." });
    c.close();
  });

  it("CLUSTER INFO: Redis 7.0's fields, in order", async () => {
    const text = plain(await m0.call("CLUSTER", "INFO")) as string;
    expect(text.endsWith("\r\n")).toBe(true);
    const lines = text.slice(0, -2).split("\r\n");
    expect(lines.map((l) => l.split(":")[0])).toEqual([
      "cluster_state",
      "cluster_slots_assigned",
      "cluster_slots_ok",
      "cluster_slots_pfail",
      "cluster_slots_fail",
      "cluster_known_nodes",
      "cluster_size",
      "cluster_current_epoch",
      "cluster_my_epoch",
      "cluster_stats_messages_sent",
      "cluster_stats_messages_received",
      "total_cluster_links_buffer_limit_exceeded",
    ]);
    expect(field(text, "cluster_state")).toBe("ok");
    expect(field(text, "cluster_slots_assigned")).toBe("16384");
    expect(field(text, "cluster_slots_ok")).toBe("16384");
    expect(field(text, "cluster_slots_pfail")).toBe("0");
    expect(field(text, "cluster_slots_fail")).toBe("0");
    expect(field(text, "cluster_known_nodes")).toBe("6");
    expect(field(text, "cluster_size")).toBe("3");
    expect(field(text, "cluster_current_epoch")).toBe(String(topology.epoch));
    expect(field(text, "cluster_my_epoch")).toBe("1");
    // A replica's epoch is its master's configEpoch.
    const replicaText = plain(await r0.call("CLUSTER", "INFO")) as string;
    expect(field(replicaText, "cluster_my_epoch")).toBe("1");
    expect(field(plain(await m1.call("CLUSTER", "INFO")) as string, "cluster_my_epoch")).toBe("2");
    // RESP3: a verbatim string.
    const c = await NodeClient.node(`${name}-s0-m`);
    await c.call("HELLO", "3");
    const reply = await c.call("CLUSTER", "INFO");
    expect(reply.type).toBe("verbatim");
    expect(reply.type === "verbatim" && reply.format).toBe("txt");
    c.close();
  });

  it("CLUSTER MYID and MYSHARDID", async () => {
    const me = nodeNamed(topology, `${name}-s0-m`);
    const replica = nodeNamed(topology, `${name}-s0-r1`);
    expect(plain(await m0.call("CLUSTER", "MYID"))).toBe(me.id);
    expect(plain(await m0.call("CLUSTER", "MYID"))).toMatch(HEX40);
    expect(plain(await m0.call("CLUSTER", "MYSHARDID"))).toBe(me.shardId);
    expect(plain(await r0.call("CLUSTER", "MYID"))).toBe(replica.id);
    expect(plain(await r0.call("CLUSTER", "MYSHARDID"))).toBe(me.shardId);
    expect(plain(await m1.call("CLUSTER", "MYSHARDID"))).not.toBe(me.shardId);
    expect(plain(await m0.call("CLUSTER", "MYID", "x"))).toEqual({ error: "ERR wrong number of arguments for 'cluster|myid' command" });
  });

  it("CLUSTER NODES: one line per node, as clusterGenNodeDescription prints it", async () => {
    const text = plain(await m0.call("CLUSTER", "NODES")) as string;
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.slice(0, -1).split("\n").map(parseNodeLine);
    expect(lines).toHaveLength(6);
    const byName = new Map(lines.map((l) => [l.hostname, l]));
    const expectedSlots: Record<string, string[]> = {
      [`${name}-s0-m`]: ["0-5460"],
      [`${name}-s1-m`]: ["5461-10922"],
      [`${name}-s2-m`]: ["10923-16383"],
    };
    for (const node of topology.nodes) {
      const line = byName.get(node.name)!;
      expect(line.id).toBe(node.id);
      expect(line.ip).toBe(node.name);
      expect(line.port).toBe(PORT);
      expect(line.cport).toBe(0);
      expect(line.pingSent).toBe(0);
      expect(line.link).toBe("connected");
      expect(line.migrations).toEqual([]);
      const self = node.name === `${name}-s0-m`;
      if (node.role === "master") {
        expect(line.flags).toBe(self ? "myself,master" : "master");
        expect(line.master).toBe("-");
        expect(line.epoch).toBe(node.configEpoch);
        expect(line.slots).toEqual(expectedSlots[node.name]);
      } else {
        const master = topology.nodes.find((n) => n.id === node.masterId)!;
        expect(line.flags).toBe("slave");
        expect(line.master).toBe(master.id);
        expect(line.epoch).toBe(master.configEpoch);
        expect(line.slots).toEqual([]);
      }
    }
    // The replica marks itself.
    const fromReplica = (plain(await r0.call("CLUSTER", "NODES")) as string).trim().split("\n").map(parseNodeLine);
    expect(fromReplica.find((l) => l.hostname === `${name}-s0-r1`)!.flags).toBe("myself,slave");
    expect(fromReplica.filter((l) => l.flags.startsWith("myself"))).toHaveLength(1);
  });

  it("CLUSTER REPLICAS / SLAVES: the replicas' CLUSTER NODES lines", async () => {
    const master = nodeNamed(topology, `${name}-s1-m`);
    const replica = nodeNamed(topology, `${name}-s1-r1`);
    const replicas = plain(await m0.call("CLUSTER", "REPLICAS", master.id)) as string[];
    expect(replicas).toHaveLength(1);
    const line = parseNodeLine(replicas[0]);
    expect(line.id).toBe(replica.id);
    expect(line.master).toBe(master.id);
    expect(line.flags).toBe("slave");
    expect(plain(await m0.call("CLUSTER", "SLAVES", master.id))).toEqual(replicas);
    expect(plain(await m0.call("CLUSTER", "REPLICAS", replica.id))).toEqual({ error: "ERR The specified node is not a master" });
    expect(plain(await m0.call("CLUSTER", "REPLICAS", "abc"))).toEqual({ error: "ERR Unknown node abc" });
  });

  it("CLUSTER SLOTS: ranges with master and replicas as [hostname, port, id, {ip}]", async () => {
    const slots = plain(await m1.call("CLUSTER", "SLOTS")) as unknown[][];
    const ranges: [number, number, number][] = [[0, 5460, 0], [5461, 10922, 1], [10923, 16383, 2]];
    expect(slots).toHaveLength(3);
    ranges.forEach(([start, end, shard], i) => {
      const master = nodeNamed(topology, `${name}-s${shard}-m`);
      const replica = nodeNamed(topology, `${name}-s${shard}-r1`);
      expect(slots[i]).toEqual([
        start,
        end,
        [master.name, PORT, master.id, ["ip", master.name]],
        [replica.name, PORT, replica.id, ["ip", replica.name]],
      ]);
    });
    // RESP3: the extra networking metadata is a map.
    const c = await NodeClient.node(`${name}-s1-m`);
    await c.call("HELLO", "3");
    const reply = await c.call("CLUSTER", "SLOTS");
    const first = (reply as { value: readonly Reply[] }).value[0] as { value: readonly Reply[] };
    const masterEntry = first.value[2] as { type: string; value: readonly Reply[] };
    expect(masterEntry.type).toBe("array");
    expect(masterEntry.value.map((r) => r.type)).toEqual(["bulk", "integer", "bulk", "map"]);
    c.close();
  });

  it("CLUSTER SHARDS: per shard its slots and nodes with Redis's fields", async () => {
    await m0.call("SET", "{hello}offset", "1");
    const shards = plain(await m0.call("CLUSTER", "SHARDS")) as unknown[][];
    expect(shards).toHaveLength(3);
    const ranges: [number, number][] = [[0, 5460], [5461, 10922], [10923, 16383]];
    shards.forEach((shard, i) => {
      expect(shard[0]).toBe("slots");
      expect(shard[1]).toEqual(ranges[i]);
      expect(shard[2]).toBe("nodes");
      const nodes = shard[3] as unknown[][];
      expect(nodes).toHaveLength(2);
      const members = [nodeNamed(topology, `${name}-s${i}-m`), nodeNamed(topology, `${name}-s${i}-r1`)];
      nodes.forEach((fields, j) => {
        const node = members[j];
        const keys = [];
        for (let k = 0; k < fields.length; k += 2) keys.push(fields[k]);
        expect(keys).toEqual(["id", "port", "ip", "endpoint", "hostname", "role", "replication-offset", "health"]);
        expect(fields[1]).toBe(node.id);
        expect(fields[3]).toBe(PORT);
        expect(fields[5]).toBe(node.name);
        expect(fields[7]).toBe(node.name);
        expect(fields[9]).toBe(node.name);
        expect(fields[11]).toBe(j === 0 ? "master" : "replica");
        expect(typeof fields[13]).toBe("number");
        expect(fields[15]).toBe("online");
      });
    });
    // The node's own offset is its replication offset.
    const own = (shards[0][3] as unknown[][])[0];
    expect(own[13]).toBe(Number(field(plain(await m0.call("INFO", "replication")) as string, "master_repl_offset")));
    expect(own[13]).toBeGreaterThan(0);
    // RESP3: maps.
    const c = await NodeClient.node(`${name}-s0-m`);
    await c.call("HELLO", "3");
    const reply = (await c.call("CLUSTER", "SHARDS")) as { type: string; value: readonly Reply[] };
    expect(reply.type).toBe("array");
    expect(reply.value[0].type).toBe("map");
    c.close();
  });

  it("CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT use the slot index", async () => {
    const c = await NodeClient.node(`${name}-s1-m`);
    await c.call("SET", "{slotkeys}a", "1");
    await c.call("HSET", "{slotkeys}b", "f", "v");
    await c.call("RPUSH", "{slotkeys}c", "x");
    const slot = plain(await c.call("CLUSTER", "KEYSLOT", "slotkeys")) as number;
    expect(slot).toBe(7408);
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", slot))).toBe(3);
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", 12182))).toBe(0);
    expect((plain(await c.call("CLUSTER", "GETKEYSINSLOT", slot, 10)) as string[]).sort()).toEqual(["{slotkeys}a", "{slotkeys}b", "{slotkeys}c"]);
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", slot, 2))).toHaveLength(2);
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", slot, 0))).toEqual([]);
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", -1))).toEqual({ error: "ERR Invalid slot" });
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", 16384))).toEqual({ error: "ERR Invalid slot" });
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", "abc"))).toEqual({ error: "ERR value is not an integer or out of range" });
    const invalid = { error: "ERR Invalid slot or number of keys" };
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", slot, -1))).toEqual(invalid);
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", 16384, 1))).toEqual(invalid);
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", -1, 1))).toEqual(invalid);
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", "x", 1))).toEqual({ error: "ERR value is not an integer or out of range" });
    expect(plain(await c.call("CLUSTER", "GETKEYSINSLOT", 1, "x"))).toEqual({ error: "ERR value is not an integer or out of range" });
    await c.call("DEL", "{slotkeys}a");
    expect(plain(await c.call("CLUSTER", "COUNTKEYSINSLOT", slot))).toBe(2);
    c.close();
  });

  it("CLUSTER LINKS (no cluster bus: empty) and HELP", async () => {
    expect(plain(await m0.call("CLUSTER", "LINKS"))).toEqual([]);
    const help = plain(await m0.call("CLUSTER", "HELP")) as string[];
    expect(help[0]).toBe("CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    expect(help).toContain("KEYSLOT <key>");
    expect(help).toContain("MYSHARDID");
    expect(help.slice(-2)).toEqual(["HELP", "    Prints this help."]);
  });
});

describe("redirections that need topology changes", { timeout: 60_000 }, () => {
  it("CLUSTERDOWN for an unassigned slot, and for every key while the cluster is down", async () => {
    const name = uniqueCluster();
    await createCluster(name);
    const c = await NodeClient.node(`${name}-s2-m`);
    // k13474 hashes to slot 16000.
    expect(plain(await c.call("CLUSTER", "KEYSLOT", "k13474"))).toBe(16000);
    await coordinator(name).assignSlots(16000, 16000, null);
    expect(plain(await c.call("GET", "k13474"))).toEqual({ error: "CLUSTERDOWN Hash slot not served" });
    expect(plain(await c.call("GET", "foo"))).toEqual({ error: "CLUSTERDOWN The cluster is down" });
    const info = plain(await c.call("CLUSTER", "INFO")) as string;
    expect(field(info, "cluster_state")).toBe("fail");
    expect(field(info, "cluster_slots_assigned")).toBe("16383");
    const me = parseNodeLine((plain(await c.call("CLUSTER", "NODES")) as string).split("\n").find((l) => l.includes("myself"))!);
    expect(me.slots).toEqual(["10923-15999", "16001-16383"]);
    // Keyless commands still work.
    expect(plain(await c.call("PING"))).toBe("PONG");
    await coordinator(name).assignSlots(16000, 16000, 2);
    expect(plain(await c.call("SET", "k13474", "1"))).toBe("OK");
    expect(plain(await c.call("SET", "foo", "1"))).toBe("OK");
    expect(field(plain(await c.call("CLUSTER", "INFO")) as string, "cluster_state")).toBe("ok");
    c.close();
  });

  it("ASK, ASKING and TRYAGAIN while a slot migrates", async () => {
    const name = uniqueCluster();
    const topology = await createCluster(name);
    const source = await NodeClient.node(`${name}-s0-m`);
    const target = await NodeClient.node(`${name}-s1-m`);
    await source.call("SET", "hello", "1"); // slot 866
    await coordinator(name).migrateSlot(866, 1);
    const from = nodeNamed(topology, `${name}-s0-m`);
    const to = nodeNamed(topology, `${name}-s1-m`);

    // The source serves keys it still has, sends the others to the target.
    expect(plain(await source.call("GET", "hello"))).toBe("1");
    expect(plain(await source.call("GET", "{hello}x"))).toEqual({ error: `ASK 866 ${name}-s1-m:${PORT}` });
    expect(plain(await source.call("SET", "{hello}y", "1"))).toEqual({ error: `ASK 866 ${name}-s1-m:${PORT}` });
    expect(plain(await source.call("MGET", "hello", "{hello}zz"))).toEqual({ error: "TRYAGAIN Multiple keys request during rehashing of slot" });

    // The target serves the slot only after ASKING, for one command.
    expect(plain(await target.call("GET", "{hello}x"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("SET", "{hello}x", "moved"))).toBe("OK");
    expect(plain(await target.call("GET", "{hello}x"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("GET", "{hello}x"))).toBe("moved");
    // Several keys of which some are missing: TRYAGAIN; the same key twice is one key.
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("MGET", "{hello}x", "{hello}z"))).toEqual({ error: "TRYAGAIN Multiple keys request during rehashing of slot" });
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("MGET", "{hello}x", "{hello}x"))).toEqual(["moved", "moved"]);
    // ASKING does not open other slots.
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("GET", "foo"))).toEqual({ error: `MOVED 12182 ${name}-s2-m:${PORT}` });
    // ASKING before MULTI lasts for the whole transaction; queued ASKING does not count.
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("MULTI"))).toBe("OK");
    expect(plain(await target.call("GET", "{hello}x"))).toBe("QUEUED");
    expect(plain(await target.call("SET", "{hello}x", "again"))).toBe("QUEUED");
    expect(plain(await target.call("EXEC"))).toEqual(["moved", "OK"]);
    expect(plain(await target.call("GET", "{hello}x"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await target.call("MULTI"))).toBe("OK");
    expect(plain(await target.call("ASKING"))).toBe("QUEUED");
    expect(plain(await target.call("GET", "{hello}x"))).toEqual({ error: `MOVED 866 ${name}-s0-m:${PORT}` });
    expect(plain(await target.call("EXEC"))).toEqual({ error: "EXECABORT Transaction discarded because of previous errors." });

    // CLUSTER NODES shows the open slot on both ends, on their own lines only.
    const mine = async (c: NodeClient) =>
      parseNodeLine((plain(await c.call("CLUSTER", "NODES")) as string).split("\n").find((l) => l.includes("myself"))!);
    expect((await mine(source)).migrations).toEqual([`[866->-${to.id}]`]);
    expect((await mine(target)).migrations).toEqual([`[866-<-${from.id}]`]);

    // Finishing the migration hands the slot over.
    await coordinator(name).assignSlots(866, 866, 1);
    expect(plain(await target.call("GET", "{hello}x"))).toBe("again");
    expect(plain(await source.call("GET", "hello"))).toEqual({ error: `MOVED 866 ${name}-s1-m:${PORT}` });
    expect((await mine(source)).migrations).toEqual([]);
    expect((await mine(source)).slots).toEqual(["0-865", "867-5460"]);
    expect((await mine(target)).slots).toEqual(["866", "5461-10922"]);
    source.close();
    target.close();
  });

  it("unblocks a client blocked on a key whose slot moves away, with MOVED", async () => {
    const name = uniqueCluster();
    await createCluster(name);
    const blocked = await NodeClient.node(`${name}-s0-m`);
    const waiting = blocked.call("BLPOP", "hello", "0");
    // Make sure the BLPOP is parked before the slot moves.
    const probe = await NodeClient.node(`${name}-s0-m`);
    await eventually(async () => (plain(await probe.call("INFO", "clients")) as string).includes("blocked_clients:1"), "client blocked");
    await coordinator(name).assignSlots(866, 866, 1);
    expect(plain(await waiting)).toEqual({ error: `MOVED 866 ${name}-s1-m:${PORT}` });
    blocked.close();
    probe.close();
  });
});

describe("a node's name", { timeout: 60_000 }, () => {
  it("survives a restart whose first event does not tell it (an alarm)", async () => {
    const name = uniqueCluster();
    await createCluster(name);
    const node = `${name}-s0-m`;
    const before = await NodeClient.node(node);
    const id = plain(await before.call("CLUSTER", "MYID"));
    before.close();
    // The object starts over (its node is gone from memory), its alarm fires
    // first, and the runtime does not say which name the object was created
    // under (as some workerd versions do not).
    await runInDurableObject(nodeStub(node), (instance: unknown, state: DurableObjectState) => {
      const shell = instance as { node: unknown; ctx: DurableObjectState; alarm(): void };
      const anonymous = { toString: () => state.id.toString(), equals: (other: DurableObjectId) => state.id.equals(other), name: undefined };
      shell.ctx = new Proxy(state, {
        get: (target, key) => {
          if (key === "id") return anonymous;
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      shell.node = null;
      shell.alarm();
    });
    const after = await NodeClient.node(node);
    expect(plain(await after.call("CLUSTER", "MYID"))).toBe(id);
    expect(plain(await after.call("SET", "hello", "1"))).toBe("OK");
    after.close();
  });
});

describe("topology epochs on a node", { timeout: 60_000 }, () => {
  it("adopts a higher epoch and ignores a lower or equal one", async () => {
    const name = uniqueCluster();
    const topology = await createCluster(name);
    const node = `${name}-s0-m`;
    const c = await NodeClient.node(node);
    const epoch = topology.epoch;
    expect(field(plain(await c.call("CLUSTER", "INFO")) as string, "cluster_current_epoch")).toBe(String(epoch));

    // An older topology in which this node serves nothing: ignored.
    const older: Topology = { ...topology, epoch: epoch - 1, slots: topology.slots.filter((r) => r.masterId !== topology.nodes[0].id) };
    const ignored = await nodeStub(node).applyTopology(older, { name: node });
    expect(ignored.adopted).toBe(false);
    expect(ignored.status.epoch).toBe(epoch);
    const same = await nodeStub(node).applyTopology({ ...older, epoch }, { name: node });
    expect(same.adopted).toBe(false);
    expect(plain(await c.call("SET", "hello", "1"))).toBe("OK");
    expect(field(plain(await c.call("CLUSTER", "INFO")) as string, "cluster_slots_assigned")).toBe("16384");

    // The same change under a newer epoch is adopted.
    const newer = await nodeStub(node).applyTopology({ ...older, epoch: epoch + 5 }, { name: node });
    expect(newer.adopted).toBe(true);
    expect(newer.status.epoch).toBe(epoch + 5);
    expect(plain(await c.call("GET", "hello"))).toEqual({ error: "CLUSTERDOWN Hash slot not served" });
    const text = plain(await c.call("CLUSTER", "INFO")) as string;
    expect(field(text, "cluster_current_epoch")).toBe(String(epoch + 5));
    expect(field(text, "cluster_slots_assigned")).toBe(String(16384 - 5461));

    // A topology the node is not part of, or an invalid one, is refused.
    const foreign = await nodeStub(node).applyTopology({ ...topology, epoch: epoch + 9, nodes: topology.nodes.slice(1), slots: [] }, { name: node });
    expect(foreign.adopted).toBe(false);
    const invalid = await nodeStub(node).applyTopology({ ...topology, epoch: epoch + 9, slots: [{ start: 0, end: 20000, masterId: topology.nodes[0].id }] }, { name: node });
    expect(invalid.adopted).toBe(false);
    expect(invalid.reason).toMatch(/invalid topology/);
    c.close();
  });

  it("keeps its topology across a restart (persisted in meta)", async () => {
    const name = uniqueCluster();
    const topology = await createCluster(name);
    const node = `${name}-s1-m`;
    // A fresh engine over the same SQL reads the topology back.
    const epoch = await runInDurableObject(nodeStub(node), (instance: unknown) => {
      const live = (instance as { node: { sql: Sql; host: NodeHost } }).node;
      const server = new Server(live.sql, live.host, commandTable);
      const replication = new Replication(server);
      server.replication = replication;
      const state = new ClusterState(server, replication);
      replication.link?.stop();
      return { epoch: state.topology?.epoch, role: state.myself?.role, enabled: server.config.bool("cluster-enabled") };
    });
    expect(epoch).toEqual({ epoch: topology.epoch, role: "master", enabled: true });
  });
});
