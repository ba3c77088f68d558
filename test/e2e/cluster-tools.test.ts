/**
 * The CLI's cluster tools against a real tidekv cluster (`npm start`: 3 shards
 * of one master and one replica): `tidekv bridge --cluster` in front of it for
 * redis-cli -c, redis-benchmark --cluster and ioredis's Cluster client;
 * `tidekv cluster check|info`; `tidekv consistency-test --cluster`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { keySlot } from "../../shared/cluster/slot.ts";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { run, startClusterBridge, tidekv, type ClusterBridge } from "./cli-support.ts";

const slotOf = (key: string) => keySlot(new TextEncoder().encode(key));

/** The default cluster's layout (README "Cluster"): 16384 slots over 3 shards. */
const SHARDS = [
  { master: "default-s0-m", replica: "default-s0-r1", start: 0, end: 5460 },
  { master: "default-s1-m", replica: "default-s1-r1", start: 5461, end: 10922 },
  { master: "default-s2-m", replica: "default-s2-r1", start: 10923, end: 16383 },
];
const shardOf = (key: string) => SHARDS.findIndex((s) => slotOf(key) >= s.start && slotOf(key) <= s.end);
const ownerOf = (key: string) => SHARDS[shardOf(key)].master;

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

const redisCli = (p: number, args: string[], input?: string) => run("redis-cli", ["-p", String(p), ...args], { input });

describe("bridge --cluster in front of a real cluster", () => {
  it("announces one local port per node, and CLUSTER SLOTS points at them", async () => {
    expect([...nodePorts.keys()].sort()).toEqual(SHARDS.flatMap((s) => [s.master, s.replica]).sort());
    const slots = (await redisCli(port, ["CLUSTER", "SLOTS"])).stdout.toString().split("\n");
    // Raw output: start, end, then ip, port, id, metadata (2 lines) per node.
    const expected: string[] = [];
    for (const s of SHARDS) {
      expected.push(String(s.start), String(s.end));
      for (const n of [s.master, s.replica]) expected.push("127.0.0.1", String(nodePorts.get(n)));
    }
    const picked: string[] = [];
    for (let i = 0; i < slots.length - 1; ) {
      picked.push(slots[i], slots[i + 1]);
      i += 2;
      for (let n = 0; n < 2; n++, i += 5) picked.push(slots[i], slots[i + 1]);
    }
    expect(picked).toEqual(expected);
  });

  it("redis-cli -c follows MOVED between shards", async () => {
    const keys = ["foo", "world", "bar", "hello"];
    // The keys cover all three shards (foo: 2, world: 1, bar and hello: 0).
    expect(new Set(keys.map(shardOf))).toEqual(new Set([0, 1, 2]));
    const script = [...keys.map((k) => `SET ${k} v-${k}`), ...keys.map((k) => `GET ${k}`)];
    let at = "default-s0-m"; // the main port is that node
    const expected: string[] = [];
    for (const line of script) {
      const key = line.split(" ")[1];
      if (ownerOf(key) !== at) {
        at = ownerOf(key);
        expected.push(`-> Redirected to slot [${slotOf(key)}] located at 127.0.0.1:${nodePorts.get(at)}`);
      }
      expected.push(line.startsWith("SET") ? "OK" : `"v-${key}"`);
    }
    const session = await redisCli(port, ["-c", "--no-raw"], script.join("\n") + "\n");
    expect(session.stdout.toString()).toBe(expected.join("\n") + "\n");
    // One-shot mode follows silently.
    expect((await redisCli(port, ["-c", "GET", "foo"])).stdout.toString()).toBe("v-foo\n");
    // Each key really lives on its owner; the other masters redirect.
    for (const key of keys) {
      for (const s of SHARDS) {
        const r = (await redisCli(nodePorts.get(s.master)!, ["--no-raw", "GET", key])).stdout.toString();
        if (s.master === ownerOf(key)) expect(r).toBe(`"v-${key}"\n`);
        else expect(r).toBe(`(error) MOVED ${slotOf(key)} 127.0.0.1:${nodePorts.get(ownerOf(key))}\n`);
      }
    }
  });

  it("redis-benchmark --cluster runs against every master through the bridge", async () => {
    const r = await run("redis-benchmark", ["--cluster", "-p", String(port), "-t", "set,get", "-n", "1000", "-q"], { timeoutMs: 110_000 });
    const text = r.stdout.toString().replace(/\r/g, "\n");
    expect(r.code, r.stderr + text).toBe(0);
    expect(text).toMatch(/^Cluster has 3 master nodes:/m);
    // One benchmark client per master, at the bridge's ports (redis-benchmark
    // keeps the address it was given for the node it asked: the main port).
    const masters = [...text.matchAll(/^Master \d+: [0-9a-f]{40} 127\.0\.0\.1:(\d+)$/gm)].map((m) => Number(m[1]));
    const s0 = nodePorts.get(SHARDS[0].master)!;
    expect(masters.map((p) => (p === port ? s0 : p)).sort()).toEqual(SHARDS.map((s) => nodePorts.get(s.master)!).sort());
    expect(text).toMatch(/^SET: [\d.]+ requests per second/m);
    expect(text).toMatch(/^GET: [\d.]+ requests per second/m);
  }, 180_000);

  it("ioredis's Cluster client: keys across slots, MGET within a hash tag", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port }], { redisOptions: { maxRetriesPerRequest: 2 } });
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `io:${i}`);
      expect(new Set(keys.map(shardOf)).size).toBe(3);
      expect(await Promise.all(keys.map((k, i) => cluster.set(k, `value-${i}`)))).toEqual(keys.map(() => "OK"));
      expect(await Promise.all(keys.map((k) => cluster.get(k)))).toEqual(keys.map((_, i) => `value-${i}`));
      // The client talked only to the bridge's ports, one per master.
      const masters = cluster.nodes("master").map((n) => n.options.port).sort();
      expect(masters).toEqual(SHARDS.map((s) => nodePorts.get(s.master)!).sort());
      // Multi-key commands within one hash tag.
      const tagged = ["{user:7}:name", "{user:7}:mail", "{user:7}:age"];
      expect(await cluster.mset(tagged[0], "ann", tagged[1], "ann@example.com", tagged[2], "41")).toBe("OK");
      expect(await cluster.mget(tagged[0], "{user:7}:missing", tagged[1], tagged[2])).toEqual(["ann", null, "ann@example.com", "41"]);
      // Keys in different slots are refused, as by Redis.
      expect(slotOf("foo")).not.toBe(slotOf("bar"));
      await expect(cluster.mget("foo", "bar")).rejects.toThrow(/^CROSSSLOT/);
      // The values are where the slot map says (read back on the owner, without the cluster client).
      const one = keys[7];
      expect((await redisCli(nodePorts.get(ownerOf(one))!, ["GET", one])).stdout.toString()).toBe("value-7\n");
    } finally {
      cluster.disconnect();
    }
  });
});

describe("tidekv cluster", () => {
  it("check: a healthy cluster passes", async () => {
    const r = await tidekv(["cluster", "check", "--url", server.wsUrl("/node/default-s1-m")], { timeoutMs: 60_000 });
    const out = r.stdout.toString();
    expect(r.code, r.stderr + out).toBe(0);
    expect(out).not.toContain("[ERR]");
    for (const s of SHARDS) {
      expect(out).toMatch(new RegExp(`^M: [0-9a-f]{40} ${s.master}\\n   slots:\\[${s.start}-${s.end}\\] \\(${s.end - s.start + 1} slots\\) master\\n   1 additional replica\\(s\\)$`, "m"));
      expect(out).toMatch(new RegExp(`^S: [0-9a-f]{40} ${s.replica}$`, "m"));
    }
    expect(out).toContain("[OK] All nodes agree about slots configuration.\n");
    expect(out).toContain("[OK] All 16384 slots covered.\n");
  });

  it("info: 3 shards of a master and a replica", async () => {
    for (const key of ["foo", "world", "bar"]) expect((await redisCli(port, ["-c", "SET", key, "x"])).stdout.toString()).toBe("OK\n");
    const r = await tidekv(["cluster", "info", "--url", server.wsUrl("/resp")], { timeoutMs: 60_000 });
    const out = r.stdout.toString();
    expect(r.code, r.stderr + out).toBe(0);
    expect(out).toMatch(/^cluster_state: ok, 16384\/16384 slots assigned \(16384 ok, 0 pfail, 0 fail\), 3 shard\(s\), 6 node\(s\), epoch \d+\n/);
    SHARDS.forEach((s, i) => {
      const range = `${s.start}-${s.end} (${s.end - s.start + 1})`;
      const master = new RegExp(`^${i + 1} +${range.replace(/[()]/g, "\\$&")} +master +${s.master} +[0-9a-f]{8} +(\\d+) +- +online$`, "m").exec(out);
      expect(master, out).not.toBeNull();
      // Every shard was just written, and its offset comes from its own master
      // (a node reports 0 for other shards' offsets).
      expect(Number(master![1]), out).toBeGreaterThan(0);
      expect(out).toMatch(new RegExp(`^ +replica +${s.replica} `, "m"));
    });
  });
});

describe("tidekv consistency-test --cluster", () => {
  it("runs for 3 s without losing an acknowledged write", async () => {
    const r = await tidekv(["consistency-test", "--cluster", "--url", server.wsUrl("/node/default-s2-m"), "--duration", "3"], { timeoutMs: 60_000 });
    const out = r.stdout.toString();
    expect(r.code, r.stderr + out).toBe(0);
    const m = /^Summary: (\d+) R \((\d+) err\) \| (\d+) W \((\d+) err\) \| (\d+) lost \| (\d+) noack$/m.exec(out);
    expect(m, out).not.toBeNull();
    const [reads, readErrors, writes, writeErrors, lost, noack] = m!.slice(1).map(Number);
    expect(reads).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(0);
    expect({ readErrors, writeErrors, lost, noack }).toEqual({ readErrors: 0, writeErrors: 0, lost: 0, noack: 0 });
  });
});
