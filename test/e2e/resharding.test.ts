/**
 * Resharding and failover on a real cluster (`npm start`: 3 shards of one
 * master and one replica), driven the way an operator would: CLUSTER
 * MIGRATESLOTS / GETSLOTMIGRATIONS with `tidekv cli --node`, CLUSTER FAILOVER
 * with redis-cli through `tidekv bridge --cluster`, while ioredis's Cluster
 * client keeps reading and writing and follows the slots.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { keySlot } from "../../shared/cluster/slot.ts";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { run, startClusterBridge, tidekv, type ClusterBridge } from "./cli-support.ts";
import { RespWsClient } from "../support/resp-client.ts";
import type { Reply } from "../../shared/resp/reply.ts";

const replyText = (reply: Reply): string => (reply.type === "error" || reply.type === "simple" ? reply.value : reply.type === "bulk" ? new TextDecoder().decode(reply.value) : JSON.stringify(reply));

const slotOf = (key: string) => keySlot(new TextEncoder().encode(key));

let server: TidekvServer;
let bridge: ClusterBridge;
let port: number;
let nodePorts: ReadonlyMap<string, number>;

beforeAll(async () => {
  server = await startTidekv();
  bridge = await startClusterBridge(server);
  ({ port, nodePorts } = bridge);
}, 120_000);

afterAll(async () => {
  await bridge?.stop();
  await server?.stop();
});

const cli = async (node: string, ...args: string[]) => {
  const r = await tidekv(["cli", "--url", server.wsUrl("/resp"), "--node", node, ...args], { timeoutMs: 60_000 });
  expect(r.code, r.stderr.toString()).toBe(0);
  return r.stdout.toString().trim();
};
const redisCli = async (node: string, ...args: string[]) => (await run("redis-cli", ["-p", String(nodePorts.get(node)), ...args])).stdout.toString().trim();

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

describe("live resharding and failover with Redis tools", () => {
  it("MIGRATESLOTS moves a slot's keys to another shard; ioredis follows", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port }], { redisOptions: { maxRetriesPerRequest: 5 } });
    try {
      // {a}: slot 15495, shard 2.
      const slot = slotOf("{a}");
      expect(slot).toBe(15495);
      const keys = Array.from({ length: 300 }, (_, i) => `{a}:${i}`);
      expect(await Promise.all(keys.map((k, i) => cluster.set(k, `v${i}`)))).toEqual(keys.map(() => "OK"));

      const targetId = await cli("default-s0-m", "CLUSTER", "MYID");
      expect(await cli("default-s2-m", "CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", String(slot), String(slot), "NODE", targetId)).toBe("OK");
      // Meanwhile the application goes on.
      expect(await cluster.incr("{a}:counter")).toBe(1);
      await eventually(async () => (await cli("default-s2-m", "CLUSTER", "GETSLOTMIGRATIONS")).includes("success"), "migration done");
      const report = await cli("default-s2-m", "CLUSTER", "GETSLOTMIGRATIONS");
      expect(report).toContain(`slot_ranges\n${slot}-${slot}`);
      expect(report).toContain(`target_node\n${targetId}`);

      expect(await redisCli("default-s0-m", "CLUSTER", "COUNTKEYSINSLOT", String(slot))).toBe("301");
      expect(await redisCli("default-s2-m", "CLUSTER", "COUNTKEYSINSLOT", String(slot))).toBe("0");
      expect(await redisCli("default-s2-m", "GET", "{a}:1")).toMatch(/^MOVED 15495 127\.0\.0\.1:\d+$/);
      // ioredis meets MOVED, refreshes its slot map, and finds every key.
      expect(await Promise.all(keys.map((k) => cluster.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
      expect(await cluster.incr("{a}:counter")).toBe(2);

      const check = await tidekv(["cluster", "check", "--url", server.wsUrl("/node/default-s1-m")], { timeoutMs: 60_000 });
      expect(check.code, check.stdout.toString()).toBe(0);
      expect(check.stdout.toString()).toMatch(/slots:\[0-5460\],\[15495\] \(5462 slots\) master/);
    } finally {
      cluster.disconnect();
    }
  }, 180_000);

  it("the source's own clients are served between batches, not after the whole move", async () => {
    const slot = slotOf("{hello}"); // 866, shard 0
    const source = await RespWsClient.open(server.wsUrl("/node/default-s0-m"));
    const client = await RespWsClient.open(server.wsUrl("/node/default-s0-m"));
    try {
      for (let i = 0; i < 3000; i += 500) {
        const batch = Array.from({ length: 500 }, (_, j) => ["SET", `{hello}k${i + j}`, `v${i + j}`]);
        for (const reply of await source.pipeline(batch)) expect(reply).toEqual({ type: "simple", value: "OK" });
      }
      const target = await cli("default-s2-m", "CLUSTER", "MYID");
      expect(await source.command("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", String(slot), String(slot), "NODE", target)).toEqual({ type: "simple", value: "OK" });
      // Once the first keys have left (30 batches to go), a read of a key still
      // there is answered while the slot is still this node's: a value or ASK,
      // never the MOVED it would get after the whole move.
      await eventually(async () => (await client.command("EXISTS", "{hello}k0")).type !== "integer", "the first batch left");
      expect(replyText(await client.command("GET", "{hello}k2999"))).toMatch(/^(v2999|ASK 866 .*)$/);
      await eventually(async () => (await cli("default-s0-m", "CLUSTER", "GETSLOTMIGRATIONS")).includes("success"), "migration done");
      expect(replyText(await client.command("GET", "{hello}k2999"))).toMatch(/^MOVED 866 /);
    } finally {
      await source.close();
      await client.close();
    }
  }, 180_000);

  it("CLUSTER FAILOVER sent to a replica promotes it; the data is all there", async () => {
    expect(await redisCli("default-s1-m", "SET", "world", "before")).toBe("OK");
    expect(await redisCli("default-s1-m", "CLUSTER", "FAILOVER")).toBe("ERR You should send CLUSTER FAILOVER to a replica");
    expect(await redisCli("default-s1-r1", "CLUSTER", "FAILOVER")).toBe("OK");
    await eventually(async () => (await redisCli("default-s1-r1", "ROLE")).startsWith("master"), "replica promoted");
    expect(await redisCli("default-s1-r1", "GET", "world")).toBe("before");
    await eventually(async () => (await redisCli("default-s1-m", "ROLE")).startsWith("slave"), "old master follows");
    // Every node learns the new topology (the bridge shows nodes at its own ports).
    const promoted = `127.0.0.1:${nodePorts.get("default-s1-r1")}@`;
    await eventually(async () => {
      const line = (await redisCli("default-s0-m", "CLUSTER", "NODES")).split("\n").find((l) => l.includes(promoted)) ?? "";
      return / master - .* 5461-10922$/.test(line);
    }, "the other shards see the new master");
  }, 180_000);
});
