import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Node } from "../../shared/engine/node.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";

/** Polls `check` until it returns true (replication is asynchronous); never asserts on time. */
async function eventually(check: () => Promise<boolean>, what: string, attempts = 600): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

function stub(name: string) {
  return (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
}

/** Runs `fn` inside node `name` with its Node. */
function withNode<T>(name: string, fn: (node: Node) => T): Promise<T> {
  return runInDurableObject(stub(name), (instance: unknown) => fn((instance as { node: Node }).node));
}

async function info(client: NodeClient, section: string, field: string): Promise<string | undefined> {
  const text = plain(await client.call("INFO", section)) as string;
  return text.split("\r\n").find((line) => line.startsWith(`${field}:`))?.slice(field.length + 1);
}

const digest = async (client: NodeClient) => plain(await client.call("DEBUG", "DIGEST")) as string;
const linkUp = (client: NodeClient) => eventually(async () => (await info(client, "replication", "master_link_status")) === "up", "link up");
const offsetOf = async (client: NodeClient) => Number(await info(client, "replication", "master_repl_offset"));

/** Waits until the replica has applied everything the master has produced so far. */
async function caughtUp(master: NodeClient, replica: NodeClient): Promise<void> {
  const target = await offsetOf(master);
  await eventually(async () => (await offsetOf(replica)) >= target, `replica reaches offset ${target}`);
}

async function startPair(): Promise<{ masterName: string; replicaName: string; master: NodeClient; replica: NodeClient }> {
  const masterName = uniqueNode("m");
  const replicaName = uniqueNode("r");
  const master = await NodeClient.node(masterName);
  const replica = await NodeClient.node(replicaName);
  expect(plain(await replica.call("REPLICAOF", masterName, "6379"))).toBe("OK");
  await linkUp(replica);
  return { masterName, replicaName, master, replica };
}

/** A mixed random workload (seeded), pipelined. */
async function randomWorkload(client: NodeClient, seed: number, commands: number): Promise<void> {
  let state = seed;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const batch: (string | number)[][] = [];
  for (let i = 0; i < commands; i++) {
    const key = `k${random(50)}`;
    switch (random(8)) {
      case 0: batch.push(["SET", key, `v${random(1000)}`]); break;
      case 1: batch.push(["INCR", `n${random(10)}`]); break;
      case 2: batch.push(["HSET", `h${random(10)}`, `f${random(20)}`, `${random(100)}`]); break;
      case 3: batch.push(["DEL", key]); break;
      case 4: batch.push(["APPEND", key, "x"]); break;
      case 5: batch.push(["SELECT", random(3)]); break;
      case 6: batch.push(["PEXPIRE", key, 100000 + random(1000)]); break;
      default: batch.push(["INCRBYFLOAT", `f${random(5)}`, "1.5"]); break;
    }
  }
  for (let i = 0; i < batch.length; i += 100) await client.pipeline(batch.slice(i, i + 100));
  await client.call("SELECT", 0);
}

describe("replication", { timeout: 60_000 }, () => {
  it("a replica takes a full sync, then follows the stream, and refuses writes", async () => {
    const masterName = uniqueNode("m");
    const replicaName = uniqueNode("r");
    const master = await NodeClient.node(masterName);
    for (let i = 0; i < 50; i++) await master.call("SET", `before:${i}`, `v${i}`);
    await master.call("HSET", "h", "a", "1", "b", "2");
    const replica = await NodeClient.node(replicaName);
    await replica.call("SET", "stale", "replaced by the full sync");
    expect(plain(await replica.call("REPLICAOF", masterName, "6379"))).toBe("OK");
    await linkUp(replica);
    await master.call("SET", "after", "1");
    await master.call("INCR", "after");
    await eventually(async () => plain(await replica.call("GET", "after")) === "2", "stream applied");
    expect(plain(await replica.call("GET", "before:7"))).toBe("v7");
    expect(plain(await replica.call("HGET", "h", "b"))).toBe("2");
    expect(plain(await replica.call("EXISTS", "stale"))).toBe(0);
    expect(await digest(replica)).toBe(await digest(master));
    expect(plain(await replica.call("SET", "x", "1"))).toEqual({ error: "READONLY You can't write against a read only replica." });
    expect(await info(master, "stats", "sync_full")).toBe("1");
    expect(plain(await replica.call("ROLE"))).toEqual(["slave", masterName, 6379, "connected", await offsetOf(replica)]);
    const role = plain(await master.call("ROLE")) as unknown[];
    expect(role.slice(0, 1)).toEqual(["master"]);
    expect(role[2]).toEqual([[replicaName, "0", expect.any(String)]]);
    master.close();
    replica.close();
  });

  it("master and replica hold identical data after a random workload (digest)", async () => {
    const { master, replica } = await startPair();
    await randomWorkload(master, 7, 1500);
    await caughtUp(master, replica);
    expect(await digest(replica)).toBe(await digest(master));
    for (const db of [0, 1, 2]) {
      await master.call("SELECT", db);
      await replica.call("SELECT", db);
      expect(plain(await replica.call("DBSIZE"))).toBe(plain(await master.call("DBSIZE")));
    }
  });

  it("a full sync under concurrent writes loses nothing and applies nothing twice", { timeout: 120_000 }, async () => {
    const masterName = uniqueNode("m");
    const master = await NodeClient.node(masterName);
    const filler = "x".repeat(400);
    for (let i = 0; i < 4000; i += 200) {
      await master.pipeline(Array.from({ length: 200 }, (_, j) => ["SET", `fill:${i + j}`, filler]));
    }
    for (let i = 0; i < 20; i++) await master.call("SET", `counter:${i}`, "0");
    const big = Array.from({ length: 3000 }, (_, i) => [`f${i}`, `${i}`]).flat();
    await master.call("HSET", "bighash", ...big);
    const replicaName = uniqueNode("r");
    const replica = await NodeClient.node(replicaName);
    const writer = await NodeClient.node(masterName);
    await replica.call("REPLICAOF", masterName, "6379");
    // Hammer counters and the big hash while the snapshot streams.
    let rounds = 0;
    while ((await info(replica, "replication", "master_link_status")) !== "up" || rounds < 5) {
      await writer.pipeline([
        ...Array.from({ length: 20 }, (_, i) => ["INCR", `counter:${i}`]),
        ["HINCRBY", "bighash", `f${rounds % 3000}`, "1000"],
        ["DEL", `fill:${rounds}`],
      ]);
      rounds++;
      if (rounds > 2000) throw new Error("replica never came up");
    }
    expect(await info(master, "stats", "sync_full")).toBe("1");
    // The writes really raced the snapshot: keys changed before being sent were copied on write.
    expect(await withNode(masterName, (node) => node.replication.master.preimagesSaved)).toBeGreaterThan(0);
    await caughtUp(master, replica);
    for (let i = 0; i < 20; i++) expect(plain(await replica.call("GET", `counter:${i}`))).toBe(String(rounds));
    expect(await digest(replica)).toBe(await digest(master));
  });

  it("after a dropped link the replica continues with a partial resync of exactly the gap", async () => {
    const { masterName, replicaName, master, replica } = await startPair();
    await master.call("SET", "a", "1");
    await caughtUp(master, replica);
    await withNode(replicaName, (node) => node.replication.link!.drop("test: drop the link"));
    const before = await offsetOf(master);
    for (let i = 0; i < 30; i++) await master.call("SET", `gap:${i}`, "value");
    const gap = (await offsetOf(master)) - before;
    await linkUp(replica);
    await caughtUp(master, replica);
    expect(await info(master, "stats", "sync_partial_ok")).toBe("1");
    expect(await info(master, "stats", "sync_full")).toBe("1");
    const sent = await withNode(masterName, (node) => node.replication.master.lastPartialResyncBytes);
    // The backlog may have gained a PING between our reads; never more than the gap plus pings.
    expect(sent).toBeGreaterThanOrEqual(gap);
    expect(sent - gap).toBeLessThanOrEqual(14 * 4);
    expect(plain(await replica.call("GET", "gap:29"))).toBe("value");
    expect(await digest(replica)).toBe(await digest(master));
  });

  it("partial resync works after both objects restart (persistent backlog and offsets)", async () => {
    const { master, replica, masterName } = await startPair();
    await master.call("SET", "k", "before restart");
    await caughtUp(master, replica);
    master.close();
    replica.close();
    await abortAllDurableObjects();
    const master2 = await NodeClient.node(masterName);
    await master2.call("SET", "k", "after restart");
    const replicaName = (plain(await master2.call("ROLE")) as unknown[])[0] ? undefined : undefined;
    void replicaName;
    // The replica's alarm brings it back and it reconnects by itself.
    await eventually(async () => (await info(master2, "stats", "sync_partial_ok")) === "1", "partial resync after restart");
    expect(await info(master2, "stats", "sync_full")).toBe("0");
  });

  it("chained replicas receive the identical stream and offsets", async () => {
    const { masterName, replicaName, master, replica } = await startPair();
    const subName = uniqueNode("s");
    const sub = await NodeClient.node(subName);
    expect(plain(await sub.call("REPLICAOF", replicaName, "6379"))).toBe("OK");
    await linkUp(sub);
    await randomWorkload(master, 11, 500);
    await caughtUp(master, replica);
    await caughtUp(master, sub);
    expect(await digest(sub)).toBe(await digest(master));
    expect(await info(sub, "replication", "master_replid")).toBe(await info(master, "replication", "master_replid"));
    expect(await offsetOf(sub)).toBe(await offsetOf(master));
    void masterName;
  });

  it("failover: a promoted replica keeps the old history as replid2 and the other replica continues", async () => {
    const masterName = uniqueNode("m");
    const master = await NodeClient.node(masterName);
    const r1Name = uniqueNode("r1");
    const r2Name = uniqueNode("r2");
    const r1 = await NodeClient.node(r1Name);
    const r2 = await NodeClient.node(r2Name);
    await r1.call("REPLICAOF", masterName, "6379");
    await r2.call("REPLICAOF", masterName, "6379");
    await linkUp(r1);
    await linkUp(r2);
    await randomWorkload(master, 3, 300);
    await caughtUp(master, r1);
    await caughtUp(master, r2);
    const oldId = await info(master, "replication", "master_replid");
    const offset = await offsetOf(r1);
    expect(plain(await r1.call("REPLICAOF", "NO", "ONE"))).toBe("OK");
    expect(await info(r1, "replication", "role")).toBe("master");
    expect(await info(r1, "replication", "master_replid2")).toBe(oldId);
    expect(await info(r1, "replication", "second_repl_offset")).toBe(String(offset + 1));
    expect(await info(r1, "replication", "master_replid")).not.toBe(oldId);
    expect(plain(await r1.call("SET", "written-after-failover", "yes"))).toBe("OK");
    expect(plain(await r2.call("REPLICAOF", r1Name, "6379"))).toBe("OK");
    await linkUp(r2);
    await eventually(async () => plain(await r2.call("GET", "written-after-failover")) === "yes", "r2 follows r1");
    expect(await info(r1, "stats", "sync_partial_ok")).toBe("1");
    expect(await info(r1, "stats", "sync_full")).toBe("0");
    expect(await info(r2, "replication", "master_replid")).toBe(await info(r1, "replication", "master_replid"));
    expect(await digest(r2)).toBe(await digest(r1));
  });

  it("WAIT counts replicas that acknowledged the client's last write", async () => {
    const { master, replica } = await startPair();
    await master.call("SET", "w", "1");
    expect(plain(await master.call("WAIT", "1", "0"))).toBe(1);
    await master.call("SET", "w", "2");
    // Two wanted, one exists: waits for the timeout, then reports one.
    expect(plain(await master.call("WAIT", "2", "200"))).toBe(1);
    expect(plain(await replica.call("WAIT", "1", "0"))).toEqual({
      error: "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
    });
  });

  it("min-replicas-to-write refuses writes without enough good replicas", async () => {
    const master = await NodeClient.node(uniqueNode("m"));
    await master.call("CONFIG", "SET", "min-replicas-to-write", "1");
    expect(plain(await master.call("SET", "k", "v"))).toEqual({ error: "NOREPLICAS Not enough good replicas to write." });
    expect(plain(await master.call("GET", "k"))).toBe(null);
    const { master: m2, replica } = await startPair();
    await m2.call("CONFIG", "SET", "min-replicas-to-write", "1");
    await eventually(async () => plain(await m2.call("SET", "k", "v")) === "OK", "write accepted with a good replica");
    void replica;
  });

  it("replica-serve-stale-data no answers MASTERDOWN while the link is down", async () => {
    const replica = await NodeClient.node(uniqueNode("r"));
    await replica.call("CONFIG", "SET", "replica-serve-stale-data", "no");
    await replica.call("REPLICAOF", "ws://127.0.0.1:9/node/nowhere", "6379");
    expect(plain(await replica.call("GET", "k"))).toEqual({
      error: "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    });
    // PING is not a "stale" command in Redis 7 either; INFO and REPLICAOF are.
    expect(plain(await replica.call("PING"))).toEqual({
      error: "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    });
    expect(await info(replica, "replication", "master_link_status")).toBe("down");
    expect(plain(await replica.call("REPLICAOF", "NO", "ONE"))).toBe("OK");
    expect(plain(await replica.call("GET", "k"))).toBe(null);
  });

  it("a replica that cannot keep up is cut off and resyncs later", async () => {
    const { masterName, master, replica } = await startPair();
    await master.call("CONFIG", "SET", "client-output-buffer-limit", "replica 2000 1000 1");
    const value = "v".repeat(500);
    for (let i = 0; i < 20; i++) await master.pipeline(Array.from({ length: 10 }, (_, j) => ["SET", `k${i}:${j}`, value]));
    await eventually(
      async () => (await withNode(masterName, (node) => node.replication.master.outputLimitDisconnections)) > 0,
      "replica cut off",
    );
    await master.call("CONFIG", "SET", "client-output-buffer-limit", "replica 0 0 0");
    await linkUp(replica);
    await caughtUp(master, replica);
    expect(await digest(replica)).toBe(await digest(master));
  });

  it("CLIENT LIST shows the replica (flags=S); CLIENT KILL TYPE replica drops it and it continues", async () => {
    const { master, replica } = await startPair();
    const list = plain(await master.call("CLIENT", "LIST", "TYPE", "replica")) as string;
    expect(list).toMatch(/flags=S /);
    expect(plain(await master.call("CLIENT", "KILL", "TYPE", "replica"))).toBe(1);
    await master.call("SET", "after-kill", "1");
    await eventually(async () => (await info(master, "stats", "sync_partial_ok")) === "1", "partial resync after the kill");
    await caughtUp(master, replica);
    expect(plain(await replica.call("GET", "after-kill"))).toBe("1");
  });

  it("refuses to replicate itself or its own replica", async () => {
    const { masterName, replicaName, master } = await startPair();
    expect(plain(await master.call("REPLICAOF", masterName, "6379"))).toEqual({ error: "ERR Can't replicate myself" });
    expect(plain(await master.call("REPLICAOF", replicaName, "6379"))).toEqual({
      error: `ERR Replication loop: '${replicaName}' is a replica of this node`,
    });
  });
});
