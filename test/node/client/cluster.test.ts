import { afterEach, describe, expect, it } from "vitest";
import { error, integer, bulk, array, simple, type Reply } from "../../../shared/resp/index.ts";
import { keySlot } from "../../../shared/cluster/slot.ts";
import { ClusterClient, ClusterError, ConnectionError, RedisError } from "../../../client/src/index.ts";
import { firstKeyIndex, parseCommandInfo } from "../../../client/src/keys.ts";
import { parseClusterNodes, parseClusterShards, parseClusterSlots, parseRedirect } from "../../../client/src/cluster-protocol.ts";
import { MockCluster, MockServer, commandInfoEntry } from "./mock-node.ts";

const enc = new TextEncoder();
const slotOf = (key: string) => keySlot(enc.encode(key));

let server: MockServer | undefined;
let client: ClusterClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.stop();
  client = server = undefined;
});

function threeNodes(opts: { ip?: boolean } = {}): MockCluster {
  return new MockCluster([
    { name: "a", slots: [[0, 5460]], ip: opts.ip ? "10.0.0.1" : undefined },
    { name: "b", slots: [[5461, 10922]], ip: opts.ip ? "10.0.0.2" : undefined },
    { name: "c", slots: [[10923, 16383]], ip: opts.ip ? "10.0.0.3" : undefined },
    { name: "a-replica", replicaOf: "a" },
  ]);
}

async function start(cluster: MockCluster, seed = "/node/a", options: ConstructorParameters<typeof ClusterClient>[1] = {}) {
  server = await MockServer.start(cluster.handler);
  client = await ClusterClient.connect(server.url(seed), { retryDelayMs: 5, ...options });
  return { server, client };
}

/** A key whose slot is owned by the named node of threeNodes(). */
function keyOn(node: "a" | "b" | "c", n = 0): string {
  const range = { a: [0, 5460], b: [5461, 10922], c: [10923, 16383] }[node];
  for (let i = 0, found = 0; ; i++) {
    const key = `k${i}`;
    const s = slotOf(key);
    if (s >= range[0] && s <= range[1] && found++ === n) return key;
  }
}

describe("cluster client: routing", () => {
  it("loads CLUSTER SLOTS and sends each command straight to its slot's node", async () => {
    const cluster = threeNodes();
    const { server, client } = await start(cluster);
    expect(client.slotRanges.map((r) => [r.start, r.end, r.master.name, r.replicas.map((x) => x.name)])).toEqual([
      [0, 5460, "a", ["a-replica"]],
      [5461, 10922, "b", []],
      [10923, 16383, "c", []],
    ]);
    for (const node of ["a", "b", "c"] as const) {
      for (let i = 0; i < 5; i++) expect(await client.call("SET", keyOn(node, i), `${node}${i}`)).toBe("OK");
    }
    for (const node of ["a", "b", "c"] as const) {
      expect([...cluster.data.get(node)!.keys()].sort()).toEqual([0, 1, 2, 3, 4].map((i) => keyOn(node, i)).sort());
      // No redirection was needed: every SET went to its owner at once.
      expect(server.commands(node).filter((c) => c[0] === "SET")).toHaveLength(5);
    }
    expect(await client.call("GET", keyOn("c", 3))).toBe("c3");
  });

  it("hash tags route together; keyless commands go to the seed", async () => {
    const cluster = threeNodes();
    const { server, client } = await start(cluster, "/node/b");
    await client.call("SET", "{user1000}.following", "1");
    await client.call("SET", "{user1000}.followers", "2");
    const owner = cluster.owner(slotOf("user1000"))!.name;
    expect(cluster.data.get(owner)!.size).toBe(2);
    await client.call("PING");
    expect(server.commands("b").some((c) => c[0] === "PING")).toBe(true);
  });

  it("finds the name in the hostname metadata when nodes announce IPs", async () => {
    const cluster = threeNodes({ ip: true });
    const { client } = await start(cluster);
    expect(client.slotRanges[1].master).toMatchObject({ endpoint: "10.0.0.2", hostname: "b", name: "b" });
    await client.call("SET", keyOn("b"), "x");
    expect(cluster.data.get("b")!.get(keyOn("b"))).toBe("x");
    // A MOVED naming an IP is resolved through the map too.
    cluster.assign(slotOf(keyOn("c")), "b");
    await client.call("SET", keyOn("c"), "moved");
    expect(cluster.data.get("b")!.get(keyOn("c"))).toBe("moved");
  });
});

describe("cluster client: redirections", () => {
  it("MOVED: resends to the new owner, remaps the slot, refreshes the map", async () => {
    const cluster = threeNodes();
    const { server, client } = await start(cluster);
    const key = keyOn("a");
    const slot = slotOf(key);
    cluster.assign(slot, "c"); // the client's map is now stale
    const slotsBefore = server.received.filter((r) => r.argv[0] === "CLUSTER" && r.argv[1] === "SLOTS").length;
    expect(await client.call("SET", key, "v")).toBe("OK");
    expect(cluster.data.get("c")!.get(key)).toBe("v");
    expect(server.commands("a").filter((c) => c[0] === "SET")).toHaveLength(1); // got MOVED
    expect(client.ownerOf(slot)).toBe("c");
    await new Promise((r) => setTimeout(r, 50));
    expect(server.received.filter((r) => r.argv[0] === "CLUSTER" && r.argv[1] === "SLOTS").length).toBeGreaterThan(slotsBefore);
    // The next command for that slot goes straight to c.
    const aSets = server.commands("a").length;
    expect(await client.call("GET", key)).toBe("v");
    expect(server.commands("a").length).toBe(aSets);
  });

  it("ASK: ASKING + the command to the target, once; the slot map is kept", async () => {
    const cluster = threeNodes();
    const { server, client } = await start(cluster);
    const key = keyOn("b");
    const slot = slotOf(key);
    cluster.migrating.set(slot, "c"); // b is migrating the slot to c; the key is not on b
    expect(await client.call("SET", key, "asked")).toBe("OK");
    expect(cluster.data.get("c")!.get(key)).toBe("asked");
    expect(server.commands("c").slice(-2)).toEqual([["ASKING"], ["SET", key, "asked"]]);
    expect(client.ownerOf(slot)).toBe("b");
    // One shot: the next command for the slot asks b first again.
    const before = server.commands("b").length;
    expect(await client.call("GET", key)).toBe("asked");
    expect(server.commands("b").length).toBe(before + 1);
    expect(server.commands("c").slice(-2)).toEqual([["ASKING"], ["GET", key]]);
  });

  it("TRYAGAIN is retried after a delay on the same node", async () => {
    const cluster = threeNodes();
    let tries = 0;
    cluster.script = (node, argv) => (argv[0] === "GET" && tries++ < 3 ? error("TRYAGAIN Multiple keys request during rehashing of slot") : undefined);
    const { server, client } = await start(cluster);
    const key = keyOn("b");
    expect(await client.call("GET", key)).toBeNull();
    expect(server.commands("b").filter((c) => c[0] === "GET")).toHaveLength(4);
  });

  it("CLUSTERDOWN is retried after refreshing the slot map", async () => {
    const cluster = threeNodes();
    let down = true;
    cluster.script = (node, argv) => (argv[0] === "SET" && down ? ((down = false), error("CLUSTERDOWN The cluster is down")) : undefined);
    const { server, client } = await start(cluster);
    const slotsBefore = server.received.filter((r) => r.argv[1] === "SLOTS").length;
    expect(await client.call("SET", keyOn("c"), "1")).toBe("OK");
    expect(server.received.filter((r) => r.argv[1] === "SLOTS").length).toBe(slotsBefore + 1);
  });

  it("gives up after 16 redirections with a ClusterError carrying the last error", async () => {
    const cluster = threeNodes();
    // a and b send each other MOVED forever
    cluster.script = (node, argv) => {
      if (argv[0] !== "GET") return undefined;
      const slot = slotOf(argv[1]);
      return error(`MOVED ${slot} ${node === "a" ? "b" : "a"}:6379`);
    };
    const { server, client } = await start(cluster);
    const e = await client.call("GET", keyOn("a")).catch((x) => x);
    expect(e).toBeInstanceOf(ClusterError);
    expect(e.message).toMatch(/too many cluster redirections \(more than 16\) for GET; last error: MOVED/);
    expect(e.lastError).toBeInstanceOf(RedisError);
    expect(server.commands().filter((c) => c[0] === "GET")).toHaveLength(17);
  });

  it("other errors are returned as they are, not retried", async () => {
    const cluster = threeNodes();
    cluster.script = (node, argv) => (argv[0] === "GET" ? error("WRONGTYPE Operation against a key holding the wrong kind of value") : undefined);
    const { server, client } = await start(cluster);
    const e = await client.call("GET", keyOn("a")).catch((x) => x);
    expect(e).toBeInstanceOf(RedisError);
    expect(e.code).toBe("WRONGTYPE");
    expect(server.commands().filter((c) => c[0] === "GET")).toHaveLength(1);
  });

  it("pipelines: one frame per node, replies in the caller's order, MOVED inside followed", async () => {
    const cluster = threeNodes();
    const { server, client } = await start(cluster);
    const keys = [keyOn("a", 0), keyOn("b", 0), keyOn("c", 0), keyOn("a", 1), keyOn("b", 1), keyOn("c", 1)];
    cluster.assign(slotOf(keys[4]), "a"); // stale for one of them
    const replies = await client.pipeline(keys.map((k) => ["INCR", k]));
    expect(replies).toEqual([1, 1, 1, 1, 1, 1]);
    const got = await client.pipeline(keys.map((k) => ["GET", k]));
    expect(got).toEqual(["1", "1", "1", "1", "1", "1"]);
    expect(cluster.data.get("a")!.get(keys[4])).toBe("1");
    expect(server.frames.get("b")).toBeGreaterThan(0);
  });

  it("multi() runs on the node owning the keys", async () => {
    const cluster = threeNodes();
    const tx: string[][] = [];
    cluster.script = (node, argv, conn) => {
      const cmd = argv[0].toUpperCase();
      if (cmd === "MULTI") {
        conn.state.multi = [];
        tx.push([node, "MULTI"]);
        return simple("OK");
      }
      if (cmd === "EXEC") {
        const queued = conn.state.multi as string[][];
        conn.state.multi = undefined;
        const results: Reply[] = queued.map((q) => cluster.handler(q, conn) as Reply);
        tx.push([node, "EXEC"]);
        return array(results);
      }
      if (conn.state.multi) {
        (conn.state.multi as string[][]).push(argv);
        return simple("QUEUED");
      }
      return undefined;
    };
    const { client } = await start(cluster);
    const r = await client.multi([["SET", "{t}x", "1"], ["INCR", "{t}x"]]);
    expect(r).toEqual(["OK", 2]);
    const owner = cluster.owner(slotOf("t"))!.name;
    expect(tx).toEqual([[owner, "MULTI"], [owner, "EXEC"]]);
  });

  it("re-routes when a node cannot be reached (the command never left), but never resends a command that may have run", async () => {
    const cluster = threeNodes();
    server = await MockServer.start(cluster.handler);
    const base = server.url("");
    // "ghost" lives on a port where nothing listens.
    client = await ClusterClient.connect(server.url("/resp"), {
      retryDelayMs: 5,
      nodeUrl: (name) => (name === "ghost" ? "ws://127.0.0.1:1/node/ghost" : `${base}/node/${name}`),
    });
    const b = cluster.nodes[1];
    cluster.nodes[1] = { name: "ghost", slots: [[5461, 10922]] };
    await client.refreshSlots();
    expect(client.ownerOf(6000)).toBe("ghost");
    cluster.nodes[1] = b; // the cluster has moved on; the client's map is stale
    expect(await client.call("SET", keyOn("b"), "x")).toBe("OK");
    expect(cluster.data.get("b")!.get(keyOn("b"))).toBe("x");
    expect(client.ownerOf(6000)).toBe("b");

    // A node that drops the connection after receiving the command: it may have run, so no retry.
    server.handler = (argv, conn) => (conn.node === "c" && argv[0] === "INCR" ? "drop" : cluster.handler(argv, conn));
    const e = await client.call("INCR", keyOn("c")).catch((x) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.sent).toBe(true);
    expect(server.commands("c").filter((c) => c[0] === "INCR")).toHaveLength(1);
  });
});

describe("cluster protocol parsing", () => {
  it("parses MOVED and ASK", () => {
    expect(parseRedirect("MOVED 3999 127.0.0.1:6381")).toEqual({ kind: "MOVED", slot: 3999, endpoint: "127.0.0.1", port: 6381, address: "127.0.0.1:6381" });
    expect(parseRedirect("ASK 12 node-b:8787")).toMatchObject({ kind: "ASK", slot: 12, endpoint: "node-b", port: 8787 });
    expect(parseRedirect("ERR MOVED 1 x:1")).toBeUndefined();
  });

  it("parses CLUSTER SLOTS, SHARDS (RESP2 and RESP3 forms) and NODES", () => {
    const cluster = threeNodes({ ip: true });
    const slots = parseClusterSlots(cluster.slotsReply());
    expect(slots[0]).toMatchObject({ start: 0, end: 5460, master: { name: "a", endpoint: "10.0.0.1", port: 6379 } });
    for (const proto of [2, 3] as const) {
      const shards = parseClusterShards(cluster.shardsReply(proto));
      expect(shards[0].slots).toEqual([[0, 5460]]);
      expect(shards[0].nodes.map((n) => [n.name, n.role, n.health])).toEqual([
        ["a", "master", "online"],
        ["a-replica", "replica", "online"],
      ]);
    }
    cluster.migrating.set(100, "b");
    const nodes = parseClusterNodes(cluster.nodesText("a"));
    expect(nodes.find((n) => n.name === "a")).toMatchObject({ endpoint: "10.0.0.1", port: 6379, busPort: 16379, hostname: "a", slots: [[0, 5460]] });
    expect(nodes.find((n) => n.name === "a")!.migrating).toEqual([{ slot: 100, to: expect.any(String) }]);
    expect(nodes.find((n) => n.name === "a-replica")!.flags).toContain("slave");
  });

  it("finds the first key from COMMAND INFO key specs: index, keynum, keyword, subcommands", () => {
    const get = parseCommandInfo(commandInfoEntry("get", { index: 1 }))!;
    expect(firstKeyIndex(get, ["GET", "k"])).toBe(1);
    const evalInfo = parseCommandInfo(commandInfoEntry("eval", { keynum: 2 }))!;
    expect(firstKeyIndex(evalInfo, ["EVAL", "return 1", "1", "key", "arg"])).toBe(3);
    expect(firstKeyIndex(evalInfo, ["EVAL", "return 1", "0", "arg"])).toBeUndefined();
    const xread = parseCommandInfo(commandInfoEntry("xread", { keynum: 0, keyword: "STREAMS" }))!;
    expect(firstKeyIndex(xread, ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"])).toBe(4);
    const object = parseCommandInfo(
      array([
        bulk("object"), integer(-2), array([]), integer(0), integer(0), integer(0), array([]), array([]), array([]),
        array([commandInfoEntry("object|encoding", { index: 2 })]),
      ]),
    )!;
    expect(firstKeyIndex(object, ["OBJECT", "ENCODING", "k"])).toBe(2);
    expect(firstKeyIndex(object, ["OBJECT", "HELP"])).toBeUndefined();
  });
});
