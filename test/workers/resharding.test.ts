/**
 * Live resharding inside workerd: the coordinator's moveSlots moves slots and
 * their keys (every type, large values, TTLs) from one master to another, in
 * batches, with the replicas on both sides following; and clients of the
 * /resp proxy writing to the moving slot meanwhile lose nothing.
 */
import { describe, expect, it } from "vitest";
import { keySlot } from "../../shared/cluster/slot.ts";
import type { Topology } from "../../shared/cluster/topology.ts";
import { NodeClient, plain } from "./support.ts";
import { coordinator, createCluster, eventually, nodeStub, uniqueCluster } from "./cluster-support.ts";

const PORT = 80;
const encoder = new TextEncoder();

interface MoveResult {
  topology: Topology;
  slots: number;
  keys: number;
}

const moveSlots = (cluster: string, start: number, end: number, shard: number) =>
  (coordinator(cluster) as unknown as { moveSlots(s: number, e: number, t: number): Promise<MoveResult> }).moveSlots(start, end, shard);

/** A key of `slot` (found by trying names; no hash tag can pick a slot directly). */
function keyInSlot(slot: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}${i}`;
    if (keySlot(encoder.encode(key)) === slot) return key;
  }
}

/** Everything a key holds, read with the commands of its type (one command at a time on `c`). */
async function allContents(c: NodeClient, keys: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const key of keys) out.push(await contents(c, key));
  return out;
}

async function contents(c: NodeClient, key: string): Promise<unknown> {
  const type = plain(await c.call("TYPE", key));
  const ttl = plain(await c.call("PTTL", key)) as number;
  const persists = ttl === -1;
  switch (type) {
    case "string": {
      const value = plain(await c.call("GET", key)) as string;
      // Large values compared by length and ends (a failure should not print 300 KB).
      return { type, persists, value: value.length > 1000 ? [value.length, value.slice(0, 10), value.slice(-10)] : value };
    }
    case "list":
      return { type, persists, value: plain(await c.call("LRANGE", key, 0, -1)) };
    case "hash":
      return { type, persists, value: plain(await c.call("HGETALL", key)) };
    case "set":
      return { type, persists, value: (plain(await c.call("SMEMBERS", key)) as string[]).sort() };
    case "zset":
      return { type, persists, value: plain(await c.call("ZRANGE", key, 0, -1, "WITHSCORES")) };
    default:
      return { type };
  }
}

describe("moveSlots (live resharding)", { timeout: 120_000 }, () => {
  it("moves every key of the slots, of every type, with TTLs, and the replicas follow", async () => {
    const name = uniqueCluster("rs");
    await createCluster(name);
    const source = await NodeClient.node(`${name}-s0-m`);
    const target = await NodeClient.node(`${name}-s1-m`);
    const sourceReplica = await NodeClient.node(`${name}-s0-r1`);
    const targetReplica = await NodeClient.node(`${name}-s1-r1`);

    // Slot 866 ({hello}) and slot 867 move; slot 868 stays.
    const other = keyInSlot(867, "x");
    const stays = keyInSlot(868, "y");
    const big = "v".repeat(300_000);
    const setup: (string | number)[][] = [
      ["SET", "{hello}str", "plain"],
      ["SET", "{hello}big", big],
      ["RPUSH", "{hello}list", "a", "b", "c", "a"],
      ["HSET", "{hello}hash", "f1", "1", "f2", "two"],
      ["SADD", "{hello}set", "m1", "m2", "m3"],
      ["ZADD", "{hello}zset", "1.5", "one", "-2", "two", "inf", "top"],
      ["SET", "{hello}ttl", "soon", "PX", 600_000],
      ["PFADD", "{hello}hll", "a", "b", "c"],
      ["SET", other, "other-slot"],
      ["SET", stays, "stays"],
    ];
    // 250 more: three batches.
    for (let i = 0; i < 250; i++) setup.push(["SET", `{hello}k${i}`, `v${i}`]);
    for (const reply of await source.pipeline(setup)) expect(plain(reply)).not.toHaveProperty("error");
    const keys = ["{hello}str", "{hello}big", "{hello}list", "{hello}hash", "{hello}set", "{hello}zset", "{hello}ttl", "{hello}hll", other];
    // PFCOUNT caches the count in the value: before taking the picture.
    const hllCount = plain(await source.call("PFCOUNT", "{hello}hll"));
    const before = await allContents(source, keys);

    const result = await moveSlots(name, 866, 868 - 1, 1);
    expect(result.slots).toBe(2);
    expect(result.keys).toBe(keys.length + 250);

    // The source holds nothing of them and redirects; the target has all of it.
    expect(plain(await source.call("CLUSTER", "COUNTKEYSINSLOT", 866))).toBe(0);
    expect(plain(await source.call("CLUSTER", "COUNTKEYSINSLOT", 867))).toBe(0);
    expect(plain(await source.call("GET", "{hello}str"))).toEqual({ error: `MOVED 866 ${name}-s1-m:${PORT}` });
    expect(plain(await target.call("CLUSTER", "COUNTKEYSINSLOT", 866))).toBe(8 + 250);
    expect(await allContents(target, keys)).toEqual(before);
    const ttl = plain(await target.call("PTTL", "{hello}ttl")) as number;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(plain(await target.call("PFCOUNT", "{hello}hll"))).toBe(hllCount);
    expect(plain(await target.call("GET", "{hello}k249"))).toBe("v249");
    // Slot 868 did not move.
    expect(plain(await source.call("GET", stays))).toBe("stays");

    // The topology: the slots changed hands, no migration is left open.
    const mine = async (c: NodeClient) => (plain(await c.call("CLUSTER", "NODES")) as string).split("\n").find((l) => l.includes("myself"))!;
    expect(await mine(target)).toMatch(/ 866-867 5461-10922$/);
    expect(await mine(source)).toMatch(/ 0-865 868-5460$/);

    // Replicas: the target's gets the keys, the source's loses them.
    await target.call("WAIT", 1, 0);
    await source.call("WAIT", 1, 0);
    expect(plain(await targetReplica.call("READONLY"))).toBe("OK");
    await eventually(async () => plain(await targetReplica.call("CLUSTER", "COUNTKEYSINSLOT", 866)) === 258, "target replica has the keys");
    expect(await allContents(targetReplica, keys)).toEqual(before);
    await eventually(async () => plain(await sourceReplica.call("CLUSTER", "COUNTKEYSINSLOT", 866)) === 0, "source replica dropped the keys");

    // Moving them again is a no-op.
    expect((await moveSlots(name, 866, 867, 1)).slots).toBe(0);
    for (const c of [source, target, sourceReplica, targetReplica]) c.close();
  });

  it("clients of /resp writing to the moving slot meanwhile lose nothing", async () => {
    // The worker's /resp serves the default cluster (fresh in this file's storage).
    const topology = await createCluster("default");
    expect(topology.nodes.length).toBe(6);
    const proxy = await NodeClient.connect("/resp");
    const counters = Array.from({ length: 20 }, (_, i) => `{hello}n${i}`);
    // 300 keys to move, and counters already at 1000.
    const load: (string | number)[][] = [];
    for (let i = 0; i < 300; i++) load.push(["SET", `{hello}old${i}`, `o${i}`]);
    for (const key of counters) load.push(["SET", key, 1000]);
    for (const reply of await proxy.pipeline(load)) expect(plain(reply)).toBe("OK");

    const move = moveSlots("default", 866, 866, 2);
    // While it runs: every round increments every counter once and creates a key.
    let rounds = 0;
    let done = false;
    void move.finally(() => (done = true));
    while (!done || rounds < 3) {
      const replies = await proxy.pipeline([...counters.map((k) => ["INCR", k]), ["SET", `{hello}new${rounds}`, `r${rounds}`]]);
      for (const reply of replies.slice(0, -1)) expect(plain(reply)).toBe(1001 + rounds);
      expect(plain(replies.at(-1)!)).toBe("OK");
      rounds++;
    }
    const result = await move;
    expect(result.slots).toBe(1);

    // Everything is on shard 2's master now, with every increment.
    const owner = await NodeClient.node("default-s2-m");
    expect(plain(await owner.call("MGET", ...counters))).toEqual(counters.map(() => String(1000 + rounds)));
    expect(plain(await owner.call("CLUSTER", "COUNTKEYSINSLOT", 866))).toBe(300 + counters.length + rounds);
    expect(plain(await proxy.call("GET", "{hello}old299"))).toBe("o299");
    expect(plain(await proxy.call("GET", `{hello}new${rounds - 1}`))).toBe(`r${rounds - 1}`);
    const old = await NodeClient.node("default-s0-m");
    expect(plain(await old.call("CLUSTER", "COUNTKEYSINSLOT", 866))).toBe(0);
    for (const c of [proxy, owner, old]) c.close();
  });
});

describe("a node's key batches (NodeDO.migrateKeys)", { timeout: 120_000 }, () => {
  it("sends a key in several chunks, stops taking keys past the byte budget, and drops only what it sent", async () => {
    const name = uniqueCluster("mk");
    await createCluster(name);
    const source = await NodeClient.node(`${name}-s0-m`);
    const target = await NodeClient.node(`${name}-s1-m`);
    // A list of 2500 items is three RPUSH commands (1000 items each at most).
    const items = Array.from({ length: 2500 }, (_, i) => `item-${i}`);
    expect(plain(await source.call("RPUSH", "{hello}list", ...items))).toBe(2500);
    const small = ["{hello}a", "{hello}b", "{hello}c"];
    for (const key of small) expect(plain(await source.call("SET", key, key))).toBe("OK");
    await coordinator(name).migrateSlot(866, 1);

    const batch = (limits: { count: number; chunkBytes: number; batchBytes: number }) =>
      (nodeStub(`${name}-s0-m`) as unknown as {
        migrateKeys(r: Record<string, unknown>): Promise<{ moved: number; remaining: number }>;
      }).migrateKeys({ slot: 866, target: `${name}-s1-m`, name: `${name}-s0-m`, ...limits });
    // The list alone is over the budget: it goes, alone, in four chunks (DEL and three RPUSH).
    expect(await batch({ count: 100, chunkBytes: 256, batchBytes: 1000 })).toEqual({ moved: 1, remaining: 3 });
    expect(plain(await source.call("EXISTS", "{hello}list"))).toEqual({ error: `ASK 866 ${name}-s1-m:${PORT}` });
    expect(plain(await source.call("GET", "{hello}a"))).toBe("{hello}a");
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("LRANGE", "{hello}list", 0, -1))).toEqual(items);
    // The rest by count.
    expect(await batch({ count: 2, chunkBytes: 256, batchBytes: 1000 })).toEqual({ moved: 2, remaining: 1 });
    expect(await batch({ count: 2, chunkBytes: 256, batchBytes: 1000 })).toEqual({ moved: 1, remaining: 0 });
    await coordinator(name).assignSlots(866, 866, 1);
    expect(plain(await target.call("MGET", ...small))).toEqual(small);
    expect(plain(await target.call("LLEN", "{hello}list"))).toBe(2500);
    source.close();
    target.close();
  });

  it("a batch the target refuses fails the call and keeps the keys; the source's clients stay connected", async () => {
    const name = uniqueCluster("mf");
    await createCluster(name);
    const source = await NodeClient.node(`${name}-s0-m`);
    expect(plain(await source.call("SET", "{hello}kept", "1"))).toBe("OK");
    const stub = nodeStub(`${name}-s0-m`) as unknown as { migrateKeys(r: Record<string, unknown>): Promise<unknown> };
    // A replica is no place for keys to migrate to.
    expect(await stub.migrateKeys({ slot: 866, target: `${name}-s1-r1`, name: `${name}-s0-m`, count: 10 })).toEqual({
      error: `moving keys of slot 866 to ${name}-s1-r1: ${name}-s1-r1 is a replica: keys migrate to masters only`,
    });
    expect(plain(await source.call("GET", "{hello}kept"))).toBe("1");
    source.close();
  });
});

describe("CLUSTER MIGRATESLOTS, GETSLOTMIGRATIONS and FAILOVER on the nodes", { timeout: 120_000 }, () => {
  it("MIGRATESLOTS on the owner moves the slots with their keys; GETSLOTMIGRATIONS reports it", async () => {
    const name = uniqueCluster("ms");
    await createCluster(name);
    const source = await NodeClient.node(`${name}-s0-m`);
    const target = await NodeClient.node(`${name}-s1-m`);
    const replica = await NodeClient.node(`${name}-s0-r1`);
    const sourceId = plain(await source.call("CLUSTER", "MYID")) as string;
    const targetId = plain(await target.call("CLUSTER", "MYID")) as string;

    // Valkey's refusals, before anything starts.
    const refusals: [(string | number)[], string][] = [
      [["SLOTSRANGE", 100, 50, "NODE", targetId], "ERR Start slot number 100 is greater than end slot number 50."],
      [["SLOTSRANGE", 6000, 6001, "NODE", targetId], "ERR Slots are not served by this node."],
      [["SLOTSRANGE", 1, 5, 3, 9, "NODE", targetId], "ERR Slot range 3-9 overlaps with previous range 1-5."],
      [["SLOTSRANGE", 1, 16384, "NODE", targetId], "ERR Invalid or out of range slot"],
      [["SLOTSRANGE", 1, 2, "NODE", "x".repeat(40)], `ERR Unknown node name: ${"x".repeat(40)}`],
      [["SLOTSRANGE", 1, 2, "NODE", "abc"], "ERR Invalid node name: abc"],
      [["SLOTSRANGE", 1, 2, "NODE", sourceId], "ERR Target node can not be this node."],
      [["SLOTS", 1, 2, "NODE", targetId], "ERR syntax error"],
      [["SLOTSRANGE", 1, 2, "TO", targetId], "ERR syntax error"],
    ];
    for (const [args, message] of refusals) {
      expect(plain(await source.call("CLUSTER", "MIGRATESLOTS", ...args))).toEqual({ error: message });
    }
    expect(plain(await replica.call("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", 1, 2, "NODE", targetId))).toEqual({
      error: "ERR Slot migration can only be used on primary nodes.",
    });
    expect(plain(await source.call("CLUSTER", "GETSLOTMIGRATIONS"))).toEqual([]);

    const setup: (string | number)[][] = [];
    for (let i = 0; i < 150; i++) setup.push(["SET", `{hello}m${i}`, `v${i}`]);
    setup.push(["SET", keyInSlot(867, "z"), "z"]);
    for (const reply of await source.pipeline(setup)) expect(plain(reply)).toBe("OK");

    expect(plain(await source.call("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", 866, 867, "NODE", targetId))).toBe("OK");
    type Job = Record<string, string | number>;
    const job = async (): Promise<Job> => {
      // RESP2: each job's map is a flat list of names and values.
      const jobs = plain(await source.call("CLUSTER", "GETSLOTMIGRATIONS")) as (string | number)[][];
      expect(jobs).toHaveLength(1);
      const pairs: [string, string | number][] = [];
      for (let i = 0; i < jobs[0].length; i += 2) pairs.push([jobs[0][i] as string, jobs[0][i + 1]]);
      return Object.fromEntries(pairs);
    };
    await eventually(async () => (await job()).state !== "migrating", "migration finished");
    const done = await job();
    expect(done).toMatchObject({
      operation: "EXPORT",
      slot_ranges: "866-867",
      target_node: targetId,
      source_node: sourceId,
      state: "success",
      message: "moved 151 keys",
    });
    expect(done.name).toMatch(/^[0-9a-f]{40}$/);
    expect(Object.keys(done)).toEqual([
      "name", "operation", "slot_ranges", "target_node", "source_node", "create_time", "last_update_time", "last_ack_time", "state", "message", "cow_size",
    ]);

    expect(plain(await source.call("GET", "{hello}m0"))).toEqual({ error: `MOVED 866 ${name}-s1-m:${PORT}` });
    expect(plain(await target.call("GET", "{hello}m149"))).toBe("v149");
    expect(plain(await target.call("CLUSTER", "COUNTKEYSINSLOT", 866))).toBe(150);
    for (const c of [source, target, replica]) c.close();
  });

  it("FAILOVER on a replica promotes it (graceful: nothing acknowledged is lost)", async () => {
    const name = uniqueCluster("fo");
    await createCluster(name);
    const master = await NodeClient.node(`${name}-s0-m`);
    const replica = await NodeClient.node(`${name}-s0-r1`);
    expect(plain(await master.call("CLUSTER", "FAILOVER"))).toEqual({ error: "ERR You should send CLUSTER FAILOVER to a replica" });
    expect(plain(await replica.call("CLUSTER", "FAILOVER", "SOON"))).toEqual({ error: "ERR syntax error" });
    expect(plain(await replica.call("CLUSTER", "FAILOVER", "FORCE", "NOW"))).toEqual({ error: "ERR syntax error" });

    expect(plain(await master.call("SET", "hello", "before"))).toBe("OK");
    expect(plain(await replica.call("CLUSTER", "FAILOVER"))).toBe("OK");
    await eventually(async () => (plain(await replica.call("ROLE")) as unknown[])[0] === "master", "replica promoted");
    const myself = (plain(await replica.call("CLUSTER", "NODES")) as string).split("\n").find((l) => l.includes("myself"))!;
    expect(myself).toMatch(/myself,master/);
    expect(myself).toMatch(/ 0-5460$/);
    expect(plain(await replica.call("GET", "hello"))).toBe("before");
    await eventually(async () => (plain(await master.call("ROLE")) as unknown[])[0] === "slave", "old master follows");
    expect(plain(await master.call("GET", "hello"))).toEqual({ error: `MOVED 866 ${name}-s0-r1:${PORT}` });
    master.close();
    replica.close();
  });
});
