/**
 * The cluster coordinator (ClusterDO) inside workerd: the default cluster's
 * bootstrap on first use, its persisted topology, real replication between a
 * shard's nodes, and failover (epoch bump, a replica becomes master, the old
 * master's slots move and it follows the new master).
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Topology } from "../../shared/cluster/topology.ts";
import { NodeClient, plain } from "./support.ts";
import { coordinator, createCluster, eventually, field, info, linkUp, settled, uniqueCluster } from "./cluster-support.ts";

const PORT = 80;

function myLine(nodes: string): string {
  return nodes.split("\n").find((l) => l.includes("myself"))!;
}

describe("the default cluster", { timeout: 60_000 }, () => {
  it("is created on first use: 3 shards x 1 replica, and its replicas replicate", async () => {
    // Nothing exists yet: connecting to one of its nodes makes the node ask the coordinator.
    const m0 = await NodeClient.node("default-s0-m");
    const text = plain(await m0.call("CLUSTER", "INFO")) as string;
    expect(field(text, "cluster_state")).toBe("ok");
    expect(field(text, "cluster_known_nodes")).toBe("6");
    expect(field(text, "cluster_size")).toBe("3");
    expect(field(text, "cluster_current_epoch")).toBe("3");

    const topology = (await coordinator("default").topology()) as Topology;
    expect(topology.name).toBe("default");
    expect(topology.nodes.map((n) => [n.name, n.role])).toEqual([
      ["default-s0-m", "master"],
      ["default-s0-r1", "replica"],
      ["default-s1-m", "master"],
      ["default-s1-r1", "replica"],
      ["default-s2-m", "master"],
      ["default-s2-r1", "replica"],
    ]);
    expect(topology.slots).toEqual([
      { start: 0, end: 5460, masterId: topology.nodes[0].id },
      { start: 5461, end: 10922, masterId: topology.nodes[2].id },
      { start: 10923, end: 16383, masterId: topology.nodes[4].id },
    ]);
    for (const node of topology.nodes) {
      expect(node.id).toMatch(/^[0-9a-f]{40}$/);
      expect(node.shardId).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(new Set(topology.nodes.map((n) => n.shardId)).size).toBe(3);
    await settled(topology);

    // A write on each master is readable on its replica (READONLY).
    const keys = ["hello", "{user1000}.following", "foo"]; // slots 866, 3443 (shard 0) and 12182 (shard 2)
    const owners = ["default-s0", "default-s0", "default-s2"];
    for (let i = 0; i < keys.length; i++) {
      const master = await NodeClient.node(`${owners[i]}-m`);
      expect(plain(await master.call("SET", keys[i], `v${i}`))).toBe("OK");
      const replica = await NodeClient.node(`${owners[i]}-r1`);
      await linkUp(replica);
      expect(plain(await replica.call("ROLE"))).toEqual(["slave", `${owners[i]}-m`, expect.any(Number), "connected", expect.any(Number)]);
      expect(plain(await replica.call("READONLY"))).toBe("OK");
      await eventually(async () => plain(await replica.call("GET", keys[i])) === `v${i}`, `${keys[i]} replicated`);
      master.close();
      replica.close();
    }
    const m1 = await NodeClient.node("default-s1-m");
    expect(plain(await m1.call("SET", "bar", "x"))).toEqual({ error: `MOVED 5061 default-s0-m:${PORT}` });
    m0.close();
    m1.close();
  });

  it("refuses connections to a node of its naming scheme that is not one of its nodes", async () => {
    const refused = await NodeClient.node("default-s9-m").then(() => "connected", (e: Error) => e.message);
    expect(refused).toMatch(/503 tidekv: default-s9-m has no cluster topology/);
  });

  it("keeps its topology in the coordinator's SQLite, and returns it unchanged", async () => {
    const first = (await coordinator("default").topology()) as Topology;
    const again = (await coordinator("default").topology()) as Topology;
    expect(again).toEqual(first);
    const rows = await runInDurableObject(coordinator("default"), (_instance, state) => {
      const sql = state.storage.sql;
      return {
        nodes: sql.exec("SELECT name, role, config_epoch FROM cluster_nodes ORDER BY position").toArray(),
        slots: sql.exec("SELECT first_slot, last_slot FROM cluster_slots ORDER BY first_slot").toArray(),
        epoch: sql.exec("SELECT value FROM cluster_meta WHERE name = 'current_epoch'").one().value,
        acks: sql.exec("SELECT COUNT(*) AS n FROM cluster_acks WHERE epoch = ?", first.epoch).one().n,
      };
    });
    expect(rows.epoch).toBe(first.epoch);
    expect(rows.nodes).toEqual(first.nodes.map((n) => ({ name: n.name, role: n.role, config_epoch: n.configEpoch })));
    expect(rows.slots).toEqual([
      { first_slot: 0, last_slot: 5460 },
      { first_slot: 5461, last_slot: 10922 },
      { first_slot: 10923, last_slot: 16383 },
    ]);
    // Every node acknowledged the epoch: nothing left to retry.
    expect(rows.acks).toBe(6);
    expect(await coordinator("default").pending()).toEqual([]);
  });
});

describe("failover through the coordinator", { timeout: 90_000 }, () => {
  it("promotes the replica: epoch bump, the old master's slots move, the old master follows", async () => {
    const name = uniqueCluster("f");
    const before = await createCluster(name);
    const oldMaster = before.nodes.find((n) => n.name === `${name}-s0-m`)!;
    const candidate = before.nodes.find((n) => n.name === `${name}-s0-r1`)!;
    const m = await NodeClient.node(oldMaster.name);
    for (let i = 0; i < 20; i++) await m.call("SET", `{hello}k${i}`, `v${i}`);
    await m.call("SET", "hello", "before");

    const result = await coordinator(name).failover(0);
    expect(result.promoted).toBe(candidate.name);
    expect(result.demoted).toBe(oldMaster.name);
    expect(result.offset).toBeGreaterThan(0);
    expect(result.push.failed).toEqual([]);
    const after = result.topology as Topology;
    expect(after.epoch).toBe(before.epoch + 1);
    const promoted = after.nodes.find((n) => n.id === candidate.id)!;
    const demoted = after.nodes.find((n) => n.id === oldMaster.id)!;
    expect(promoted).toMatchObject({ role: "master", masterId: null, configEpoch: after.epoch });
    expect(demoted).toMatchObject({ role: "replica", masterId: candidate.id });
    expect(after.slots[0]).toEqual({ start: 0, end: 5460, masterId: candidate.id });
    expect(after.slots.slice(1)).toEqual(before.slots.slice(1));
    expect(await coordinator(name).topology()).toEqual(after);

    // The new master serves the slots with everything written before.
    const n = await NodeClient.node(candidate.name);
    expect(plain(await n.call("GET", "hello"))).toBe("before");
    expect(plain(await n.call("GET", "{hello}k19"))).toBe("v19");
    expect(plain(await n.call("SET", "hello", "after"))).toBe("OK");
    expect(plain(await n.call("CLUSTER", "MYSHARDID"))).toBe(candidate.shardId);

    // The old master redirects to it, and replicates it (a partial resync: no full sync).
    expect(plain(await m.call("GET", "hello"))).toEqual({ error: `MOVED 866 ${candidate.name}:${PORT}` });
    await linkUp(m);
    expect((plain(await m.call("ROLE")) as unknown[]).slice(0, 2)).toEqual(["slave", candidate.name]);
    expect(plain(await m.call("READONLY"))).toBe("OK");
    await eventually(async () => plain(await m.call("GET", "hello")) === "after", "the old master follows the new one");
    expect(await info(n, "stats", "sync_partial_ok")).toBe("1");
    expect(await info(n, "stats", "sync_full")).toBe("0");

    // Every node sees the new roles and epoch (CLUSTER NODES, CLUSTER INFO).
    const other = await NodeClient.node(`${name}-s2-m`);
    const nodes = plain(await other.call("CLUSTER", "NODES")) as string;
    const line = (id: string) => nodes.split("\n").find((l) => l.startsWith(id))!.split(" ");
    expect(line(candidate.id).slice(2, 4)).toEqual(["master", "-"]);
    expect(line(candidate.id)[6]).toBe(String(after.epoch));
    expect(line(candidate.id)[8]).toBe("0-5460");
    expect(line(oldMaster.id).slice(2, 4)).toEqual(["slave", candidate.id]);
    expect(line(oldMaster.id)).toHaveLength(8); // no slots
    expect(field(plain(await other.call("CLUSTER", "INFO")) as string, "cluster_current_epoch")).toBe(String(after.epoch));
    expect(myLine(plain(await n.call("CLUSTER", "NODES")) as string)).toContain("myself,master");
    expect(field(plain(await m.call("CLUSTER", "INFO")) as string, "cluster_my_epoch")).toBe(String(after.epoch));
    m.close();
    n.close();
    other.close();
  });

  it("fails back, and refuses impossible failovers without changing the epoch", async () => {
    const name = uniqueCluster("f");
    const before = await createCluster(name);
    const failure = (p: Promise<unknown>) => p.then(() => "no error", (e: Error) => e.message);
    expect(await failure(coordinator(name).failover(7))).toMatch(/no such shard/);
    expect(await failure(coordinator(name).failover(1, { replica: `${name}-s0-r1` }))).toMatch(/not a replica of shard 1/);
    expect(((await coordinator(name).topology()) as Topology).epoch).toBe(before.epoch);

    // Shards may be named by a node name; a forced failover skips the old master.
    const first = await coordinator(name).failover(`${name}-s1-m`, { force: true });
    expect(first.promoted).toBe(`${name}-s1-r1`);
    expect(first.offset).toBe(null);
    await settled(first.topology as Topology);
    const second = await coordinator(name).failover(1);
    expect(second.promoted).toBe(`${name}-s1-m`);
    expect((second.topology as Topology).epoch).toBe(before.epoch + 2);
    const c = await NodeClient.node(`${name}-s1-m`);
    expect(plain(await c.call("SET", "{x}a", "1"))).toEqual({ error: `MOVED 16287 ${name}-s2-m:${PORT}` });
    expect(plain(await c.call("SET", "slotkeys", "1"))).toBe("OK"); // slot 7408, shard 1
    expect(myLine(plain(await c.call("CLUSTER", "NODES")) as string)).toMatch(/ myself,master - 0 \d+ 5 connected 5461-10922$/);
    await settled(second.topology as Topology);
    c.close();
  });

  it("answers a client blocked on the old master with MOVED to the new one", async () => {
    const name = uniqueCluster("f");
    await createCluster(name);
    const blocked = await NodeClient.node(`${name}-s0-m`);
    const waiting = blocked.call("BLPOP", "hello", "0");
    const probe = await NodeClient.node(`${name}-s0-m`);
    await eventually(async () => (plain(await probe.call("INFO", "clients")) as string).includes("blocked_clients:1"), "client blocked");
    const result = await coordinator(name).failover(0);
    expect(plain(await waiting)).toEqual({ error: `MOVED 866 ${name}-s0-r1:${PORT}` });
    await settled(result.topology as Topology);
    blocked.close();
    probe.close();
  });
});
