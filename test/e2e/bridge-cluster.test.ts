/**
 * `tidekv bridge --cluster` (the real bin) over a scripted mock cluster (the
 * tidekv cluster feature comes later): redis-cli -c and redis-benchmark
 * --cluster follow the rewritten addresses unmodified; `tidekv cli -c`
 * follows MOVED/ASK itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../shared/cluster/slot.ts";
import { freePort } from "../support/processes.ts";
import { MockCluster, MockServer } from "../node/client/mock-node.ts";
import { run, startTidekvCommand, tidekv, type Running } from "./cli-support.ts";

const slotOf = (key: string) => keySlot(new TextEncoder().encode(key));

let cluster: MockCluster;
let server: MockServer;
let bridge: Running;
let port: number;
const nodePorts = new Map<string, number>();

beforeAll(async () => {
  cluster = new MockCluster([
    { name: "a", slots: [[0, 5460]] },
    { name: "b", slots: [[5461, 10922]] },
    { name: "c", slots: [[10923, 16383]] },
  ]);
  server = await MockServer.start(cluster.handler);
  port = await freePort();
  bridge = await startTidekvCommand(["bridge", "--cluster", "--listen", String(port), "--url", server.url("/node/a")]);
  for (const m of bridge.output().matchAll(/node (\S+): 127\.0\.0\.1:(\d+) ->/g)) nodePorts.set(m[1], Number(m[2]));
});

afterAll(async () => {
  await bridge?.stop();
  await server?.stop();
});

describe("bridge --cluster with Redis's own tools", () => {
  it("announces one port per node", () => {
    expect([...nodePorts.keys()].sort()).toEqual(["a", "b", "c"]);
  });

  it("redis-cli -c follows MOVED through the bridge (and says so in interactive mode)", async () => {
    const keys = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
    for (const k of keys) {
      const r = await run("redis-cli", ["-c", "-p", String(port), "SET", k, `v-${k}`]);
      expect(r.stdout.toString()).toBe("OK\n");
    }
    for (const k of keys) {
      expect(cluster.data.get(cluster.owner(slotOf(k))!.name)!.get(k)).toBe(`v-${k}`);
      expect((await run("redis-cli", ["-c", "-p", String(port), "GET", k])).stdout.toString()).toBe(`v-${k}\n`);
    }
    const owner = cluster.owner(slotOf("charlie"))!.name;
    const session = await run("redis-cli", ["-c", "-p", String(nodePorts.get(owner === "a" ? "b" : "a")!), "--no-raw"], { input: "GET charlie\n" });
    expect(session.stdout.toString()).toBe(`-> Redirected to slot [${slotOf("charlie")}] located at 127.0.0.1:${nodePorts.get(owner)}\n"v-charlie"\n`);
  });

  it("redis-benchmark --cluster runs against every master through the bridge", async () => {
    const before = [...cluster.data.values()].map((m) => m.size);
    const r = await run("redis-benchmark", ["--cluster", "-p", String(port), "-t", "set,get", "-n", "600", "-q"], { timeoutMs: 110_000 });
    const text = r.stdout.toString().replace(/\r/g, "\n");
    expect(r.code, r.stderr + text).toBe(0);
    expect(text).toMatch(/^SET: [\d.]+ requests per second/m);
    expect(text).toMatch(/^GET: [\d.]+ requests per second/m);
    const after = [...cluster.data.values()].map((m) => m.size);
    // Each master got its own hash-tagged benchmark key.
    after.forEach((n, i) => expect(n).toBeGreaterThan(before[i]));
  });
});

describe("tidekv cli -c against a cluster", () => {
  it("one-shot: follows MOVED and ASK silently", async () => {
    const key = "needs-a-hop";
    const owner = cluster.owner(slotOf(key))!.name;
    const other = owner === "a" ? "b" : "a";
    const r = await tidekv(["cli", "-c", "--url", server.url(`/node/${other}`), "SET", key, "1"]);
    expect(r.stdout.toString()).toBe("OK\n");
    expect(cluster.data.get(owner)!.get(key)).toBe("1");
    // Without -c the redirection is the reply.
    const plain = await tidekv(["cli", "--url", server.url(`/node/${other}`), "--no-raw", "GET", key]);
    expect(plain.stdout.toString()).toBe(`(error) MOVED ${slotOf(key)} ${owner}:6379\n`);
    // ASK: a migrating slot whose key is already on the target.
    const asked = "asked-key";
    const from = cluster.owner(slotOf(asked))!.name;
    const to = from === "c" ? "a" : "c";
    cluster.migrating.set(slotOf(asked), to);
    cluster.data.get(to)!.set(asked, "there");
    try {
      const r2 = await tidekv(["cli", "-c", "--url", server.url(`/node/${from}`), "GET", asked]);
      expect(r2.stdout.toString()).toBe("there\n");
      expect(server.commands(to).slice(-2)).toEqual([["ASKING"], ["GET", asked]]);
    } finally {
      cluster.migrating.delete(slotOf(asked));
    }
  });

  it("interactive: prints the redirection and moves the prompt to the node", async () => {
    const key = "interactive-key";
    const owner = cluster.owner(slotOf(key))!.name;
    const other = owner === "a" ? "b" : "a";
    const r = await tidekv(["cli", "-c", "--no-raw", "--url", server.url(`/node/${other}`)], { input: `SET ${key} x\nGET ${key}\n` });
    expect(r.stdout.toString()).toBe(`-> Redirected to slot [${slotOf(key)}] located at ${owner}:6379\nOK\n"x"\n`);
  });
});
