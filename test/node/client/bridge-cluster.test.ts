/**
 * `tidekv bridge --cluster` over a scripted mock cluster, driven by ioredis's
 * Cluster client and by raw RESP over TCP: one local port per node, node
 * addresses rewritten in CLUSTER replies and in MOVED/ASK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnection } from "node:net";
import { Cluster, Redis } from "ioredis";
import { ReplyParser, encodeCommand, type Reply } from "../../../shared/resp/index.ts";
import { keySlot } from "../../../shared/cluster/slot.ts";
import { Bridge } from "../../../client/cli/bridge.ts";
import { parseClusterSlots } from "../../../client/src/cluster-protocol.ts";
import { MockCluster, MockServer } from "./mock-node.ts";

const slotOf = (key: string) => keySlot(new TextEncoder().encode(key));

let server: MockServer;
let bridge: Bridge;
let cluster: MockCluster;

beforeAll(async () => {
  cluster = new MockCluster([
    { name: "a", slots: [[0, 5460]] },
    { name: "b", slots: [[5461, 10922]], ip: "10.0.0.2" },
    { name: "c", slots: [[10923, 16383]] },
    { name: "c-replica", replicaOf: "c" },
  ]);
  server = await MockServer.start(cluster.handler);
  bridge = new Bridge({ listen: 0, url: server.url("/node/a"), cluster: true });
  await bridge.start();
});

afterAll(async () => {
  await bridge?.close();
  await server?.stop();
});

/** Sends commands over a fresh TCP connection to a bridge port; returns the replies. */
function tcp(port: number, commands: string[][]): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const parser = new ReplyParser();
    const replies: Reply[] = [];
    socket.on("connect", () => socket.write(Buffer.concat(commands.map((c) => encodeCommand(c)))));
    socket.on("data", (d) => {
      parser.feed(new Uint8Array(d));
      for (let r = parser.next(); r !== undefined; r = parser.next()) replies.push(r);
      if (replies.length === commands.length) {
        socket.end();
        resolve(replies);
      }
    });
    socket.on("error", reject);
  });
}

describe("bridge --cluster", () => {
  it("listens on one port per node found in CLUSTER SLOTS", () => {
    expect([...bridge.nodes.keys()].sort()).toEqual(["a", "b", "c", "c-replica"]);
    const ports = [bridge.port, ...bridge.nodes.values()];
    expect(new Set(ports).size).toBe(5);
  });

  it("rewrites CLUSTER SLOTS and MOVED to the bridge's ports", async () => {
    const [slots, moved] = await tcp(bridge.port, [["CLUSTER", "SLOTS"], ["GET", "{c}key"]]);
    const ranges = parseClusterSlots(slots);
    expect(ranges.map((r) => [r.master.endpoint, r.master.port])).toEqual([
      ["127.0.0.1", bridge.nodes.get("a")],
      ["127.0.0.1", bridge.nodes.get("b")],
      ["127.0.0.1", bridge.nodes.get("c")],
    ]);
    expect(ranges[2].replicas[0].port).toBe(bridge.nodes.get("c-replica"));
    const owner = cluster.owner(slotOf("c"))!.name;
    expect(moved).toEqual({ type: "error", value: `MOVED ${slotOf("c")} 127.0.0.1:${bridge.nodes.get(owner)}` });
    // Following it by hand reaches the right node.
    const [value] = await tcp(bridge.nodes.get(owner)!, [["SET", "{c}key", "v"]]);
    expect(value).toEqual({ type: "simple", value: "OK" });
    expect(cluster.data.get(owner)!.get("{c}key")).toBe("v");
  });

  it("ioredis's Cluster client works unmodified through it", async () => {
    const redis = new Cluster([{ host: "127.0.0.1", port: bridge.port }], { enableOfflineQueue: true, slotsRefreshTimeout: 5000 });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
      for (const k of keys) expect(await redis.set(k, k.toUpperCase())).toBe("OK");
      for (const k of keys) expect(await redis.get(k)).toBe(k.toUpperCase());
      expect(await redis.incr("counter")).toBe(1);
      // Each key landed on its slot's owner.
      for (const k of keys) expect(cluster.data.get(cluster.owner(slotOf(k))!.name)!.get(k)).toBe(k.toUpperCase());
      const used = new Set(keys.map((k) => cluster.owner(slotOf(k))!.name));
      expect(used.size).toBe(3);
    } finally {
      redis.disconnect();
    }
  });

  it("a slot moved after the client loaded the map: ioredis follows the rewritten MOVED", async () => {
    const redis = new Cluster([{ host: "127.0.0.1", port: bridge.port }]);
    try {
      expect(await redis.set("stay", "1")).toBe("OK");
      const slot = slotOf("moving-key");
      const from = cluster.owner(slot)!.name;
      const to = from === "a" ? "b" : "a";
      cluster.assign(slot, to);
      expect(await redis.set("moving-key", "x")).toBe("OK");
      expect(cluster.data.get(to)!.get("moving-key")).toBe("x");
      expect(cluster.data.get(from)!.has("moving-key")).toBe(false);
    } finally {
      redis.disconnect();
    }
  });

  it("a plain (non-cluster) ioredis client on a node port talks to that node", async () => {
    const port = bridge.nodes.get("b")!;
    const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, enableReadyCheck: false });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe("PONG");
      await expect(redis.get("{a}x")).rejects.toThrow(new RegExp(`MOVED \\d+ 127\\.0\\.0\\.1:${bridge.nodes.get(cluster.owner(slotOf("a"))!.name)}`));
    } finally {
      redis.disconnect();
    }
  });
});
