/** `tidekv cluster info|nodes|check` and `consistency-test` against scripted mock nodes. */
import { afterEach, describe, expect, it } from "vitest";
import { integer, bulk, NULL } from "../../../shared/resp/index.ts";
import { clusterCheck, clusterInfo, clusterNodes } from "../../../client/cli/cluster-cmd.ts";
import { consistencyTest } from "../../../client/cli/consistency.ts";
import { main } from "../../../client/cli/main.ts";
import { MockCluster, MockServer, nodeId } from "./mock-node.ts";

let server: MockServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

function healthy(): MockCluster {
  return new MockCluster([
    { name: "a", slots: [[0, 8191]], offset: 5000 },
    { name: "b", slots: [[8192, 16383]], offset: 7000 },
    { name: "a-r", replicaOf: "a", offset: 4990 },
    { name: "b-r", replicaOf: "b", offset: 7000 },
  ]);
}

async function run(fn: typeof clusterInfo, cluster: MockCluster, extra: Record<string, unknown> = {}) {
  server = await MockServer.start(cluster.handler);
  const lines: string[] = [];
  const code = await fn({ url: server.url("/node/a"), ...extra }, (l) => lines.push(l));
  return { code, lines, text: lines.join("\n") };
}

describe("tidekv cluster info / nodes", () => {
  it("info: state, shards with slot ranges, roles, offsets and lag", async () => {
    const { code, lines } = await run(clusterInfo, healthy());
    expect(code).toBe(0);
    expect(lines[0]).toBe("cluster_state: ok, 16384/16384 slots assigned (16384 ok, 0 pfail, 0 fail), 2 shard(s), 4 node(s), epoch 6");
    const rows = lines.slice(2).map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(["SHARD", "SLOTS", "ROLE", "NODE", "ID", "OFFSET", "LAG", "HEALTH"]);
    expect(rows[1]).toEqual(["1", "0-8191 (8192)", "master", "a", nodeId("a").slice(0, 8), "5000", "-", "online"]);
    expect(rows[2].slice(-6)).toEqual(["replica", "a-r", nodeId("a-r").slice(0, 8), "4990", "10", "online"]);
    expect(rows[3][0]).toBe("2");
  });

  it("nodes: one line per node with its URL", async () => {
    const { code, text } = await run(clusterNodes, healthy());
    expect(code).toBe(0);
    expect(text).toMatch(new RegExp(`^b-r\\s+replica\\s+${nodeId("b-r")}\\s+-\\s+b\\s+7000\\s+0\\s+online\\s+ws://127\\.0\\.0\\.1:\\d+/node/b-r$`, "m"));
    expect(text).toMatch(/^a\s+master\s+\w{40}\s+0-8191 \(8192\)/m);
  });

  it("a server without cluster support is one clear error", async () => {
    server = await MockServer.start(() => ({ type: "error", value: "ERR This instance has cluster support disabled" }));
    await expect(clusterInfo({ url: server.url("/resp") }, () => undefined)).rejects.toThrow(
      /^cluster: ws:\/\/127\.0\.0\.1:\d+\/resp: ERR This instance has cluster support disabled$/,
    );
  });
});

describe("tidekv cluster check", () => {
  it("a healthy cluster passes", async () => {
    const { code, text } = await run(clusterCheck, healthy());
    expect(text).toContain("[OK] All nodes agree about slots configuration.");
    expect(text).toContain("[OK] All 16384 slots covered.");
    expect(text).not.toContain("[ERR]");
    expect(text).toMatch(/^M: \w{40} a\n   slots:\[0-8191\] \(8192 slots\) master\n   1 additional replica\(s\)$/m);
    expect(code).toBe(0);
  });

  it("uncovered slots fail the check", async () => {
    const c = healthy();
    c.nodes[1].slots = [[8192, 16000]];
    const { code, text } = await run(clusterCheck, c);
    expect(text).toContain("[ERR] Not all 16384 slots are covered by nodes (383 uncovered).");
    expect(code).toBe(1);
  });

  it("an open (migrating) slot fails the check", async () => {
    const c = healthy();
    c.migrating.set(42, "b");
    const { code, text } = await run(clusterCheck, c);
    expect(text).toContain("have slot 42 in migrating state");
    expect(text).toContain("[ERR] The following slots are open: 42.");
    expect(code).toBe(1);
  });

  it("nodes that disagree, a failed node and a bad cluster_state fail the check", async () => {
    const c = healthy();
    c.views.set("b-r", [{ name: "a", slots: [[0, 16383]] }]);
    c.nodes[2].health = "fail";
    const { code, text } = await run(clusterCheck, c);
    expect(text).toContain("[ERR] Nodes don't agree about configuration! (b-r differ");
    expect(text).toContain("[ERR] Node a-r is fail.");
    expect(code).toBe(1);
    c.views.clear();
    c.nodes[2].health = undefined;
    c.clusterState = "fail";
    const again = await (async () => {
      const lines: string[] = [];
      const code2 = await clusterCheck({ url: server!.url("/node/a") }, (l) => lines.push(l));
      return { code2, text: lines.join("\n") };
    })();
    expect(again.text).toContain("[ERR] cluster_state is fail.");
    expect(again.code2).toBe(1);
  });

  it("replica lag above --max-lag is reported", async () => {
    const { text } = await run(clusterCheck, healthy(), { maxLag: 5 });
    expect(text).toContain("[WARNING] Replica a-r lags 10 bytes behind a.");
  });

  it("through main(): exit status 1 and a one-line error when the server is unreachable", async () => {
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await main(["cluster", "check", "--url", "ws://127.0.0.1:1/resp"])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join("")).toMatch(/^tidekv: cluster: ws:\/\/127\.0\.0\.1:1\/resp: could not connect to .*ECONNREFUSED.*\n$/);
  });
});

describe("consistency-test", () => {
  it("counts reads and writes, and reports 0 lost on a store that keeps its writes", async () => {
    const store = new Map<string, number>();
    server = await MockServer.start((argv) => {
      if (argv[0] === "GET") return store.has(argv[1]) ? bulk(String(store.get(argv[1]))) : NULL;
      if (argv[0] === "INCR") {
        store.set(argv[1], (store.get(argv[1]) ?? 0) + 1);
        return integer(store.get(argv[1])!);
      }
      return { type: "error", value: "ERR ?" };
    });
    const stop = { requested: false };
    const lines: string[] = [];
    setTimeout(() => (stop.requested = true), 1300);
    const r = await consistencyTest({ url: server.url(), keys: 50, workingSet: 5 }, (l) => lines.push(l), stop);
    expect(r.reads).toBeGreaterThan(100);
    expect(r.writes).toBe(r.reads);
    expect(r.lost).toBe(0);
    expect(r.noack).toBe(0);
    expect(lines.some((l) => /^\d+ R \(0 err\) \| \d+ W \(0 err\) \| 0 lost \| 0 noack$/.test(l))).toBe(true);
  });

  it("--cluster: routes by slot over a (mock) cluster and reports 0 lost", async () => {
    const c = healthy();
    server = await MockServer.start(c.handler);
    const stop = { requested: false };
    setTimeout(() => (stop.requested = true), 800);
    const r = await consistencyTest({ url: server.url("/node/a"), cluster: true, keys: 100, workingSet: 10 }, () => undefined, stop);
    expect(r.writes).toBeGreaterThan(20);
    expect([r.lost, r.noack, r.failedReads, r.failedWrites]).toEqual([0, 0, 0, 0]);
    // Both masters got counters, and no command needed a redirection.
    expect(c.data.get("a")!.size).toBeGreaterThan(0);
    expect(c.data.get("b")!.size).toBeGreaterThan(0);
  });

  it("detects lost writes (a store that forgets) and unacknowledged ones (failed INCRs that ran)", async () => {
    const store = new Map<string, number>();
    let incrs = 0;
    server = await MockServer.start((argv) => {
      if (argv[0] === "GET") return store.has(argv[1]) ? bulk(String(store.get(argv[1]))) : NULL;
      if (argv[0] === "INCR") {
        incrs++;
        store.set(argv[1], (store.get(argv[1]) ?? 0) + 1);
        if (incrs % 10 === 0) return { type: "error", value: "ERR pretend the reply was lost" }; // ran, not acknowledged
        if (incrs % 7 === 0) store.delete(argv[1]); // acknowledged, then lost
        return integer(incrs % 7 === 0 ? 1 : store.get(argv[1])!);
      }
      return { type: "error", value: "ERR ?" };
    });
    const stop = { requested: false };
    setTimeout(() => (stop.requested = true), 800);
    const r = await consistencyTest({ url: server.url(), keys: 3, workingSet: 2 }, () => undefined, stop);
    expect(r.failedWrites).toBeGreaterThan(0);
    expect(r.noack).toBeGreaterThan(0);
    expect(r.lost).toBeGreaterThan(0);
  });
});
