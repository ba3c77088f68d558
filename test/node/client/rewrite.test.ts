import { describe, expect, it } from "vitest";
import { ReplyParser, encodeCommand, encodeReply, array, bulk, integer, simple, error, map, NULL, type Reply } from "../../../shared/resp/index.ts";
import { ReplyRewriter, rewriteNodesText, rewriteRedirect, rewriteShards, rewriteSlots } from "../../../client/cli/rewrite.ts";
import { parseClusterShards, parseClusterSlots, parseClusterNodes } from "../../../client/src/cluster-protocol.ts";
import { MockCluster } from "./mock-node.ts";

const ports: Record<string, number> = { a: 7001, b: 7002, c: 7003, "a-replica": 7004 };
const byAddress: Record<string, string> = { "b:6379": "b", "c:6379": "c" };
const portOf = ({ name, endpoint, port }: { name?: string; endpoint: string; port: number }) => {
  const node = name ?? byAddress[`${endpoint}:${port}`];
  if (!(node in ports)) throw new Error(`unexpected node ${node}`);
  return ports[node];
};

function cluster(ip = false): MockCluster {
  return new MockCluster([
    { name: "a", slots: [[0, 5460]], ip: ip ? "10.0.0.1" : undefined },
    { name: "b", slots: [[5461, 10922]], ip: ip ? "10.0.0.2" : undefined },
    { name: "c", slots: [[10923, 16383]], ip: ip ? "10.0.0.3" : undefined },
    { name: "a-replica", replicaOf: "a", ip: ip ? "10.0.0.4" : undefined },
  ]);
}

function decodeAll(bytes: Uint8Array): Reply[] {
  const p = new ReplyParser();
  p.feed(bytes);
  const out: Reply[] = [];
  for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  return out;
}

describe("bridge --cluster address rewriting", () => {
  it("MOVED / ASK point at the bridge's port; other errors are untouched", () => {
    expect(rewriteRedirect("MOVED 3999 b:6379", portOf, "127.0.0.1")).toBe("MOVED 3999 127.0.0.1:7002");
    expect(rewriteRedirect("ASK 1 c:6379", portOf, "127.0.0.1")).toBe("ASK 1 127.0.0.1:7003");
    expect(rewriteRedirect("ERR no", portOf, "127.0.0.1")).toBe("ERR no");
  });

  for (const ip of [false, true]) {
    it(`CLUSTER SLOTS / SHARDS / NODES ${ip ? "(IPs + hostname metadata)" : "(names as endpoints)"}`, () => {
      const c = cluster(ip);
      const slots = parseClusterSlots(rewriteSlots(c.slotsReply(), portOf, "127.0.0.1"));
      expect(slots.map((r) => [r.master.endpoint, r.master.port, r.master.hostname, r.replicas.map((x) => x.port)])).toEqual([
        ["127.0.0.1", 7001, undefined, [7004]],
        ["127.0.0.1", 7002, undefined, []],
        ["127.0.0.1", 7003, undefined, []],
      ]);
      for (const proto of [2, 3] as const) {
        const shards = parseClusterShards(rewriteShards(c.shardsReply(proto), portOf, "127.0.0.1"));
        expect(shards[0].nodes.map((n) => [n.endpoint, n.ip, n.port, n.hostname])).toEqual([
          ["127.0.0.1", "127.0.0.1", 7001, undefined],
          ["127.0.0.1", "127.0.0.1", 7004, undefined],
        ]);
        expect(shards[0].slots).toEqual([[0, 5460]]);
      }
      const nodes = parseClusterNodes(rewriteNodesText(c.nodesText("b"), portOf, "127.0.0.1"));
      expect(nodes.map((n) => n.address)).toEqual(["127.0.0.1:7001@17001", "127.0.0.1:7002@17002", "127.0.0.1:7003@17003", "127.0.0.1:7004@17004"]);
      expect(nodes[1].flags).toEqual(["myself", "master"]);
      expect(nodes[0].slots).toEqual([[0, 5460]]);
    });
  }

  it("follows a connection's stream: only cluster replies are rewritten, bytes split anywhere", () => {
    const c = cluster();
    const rw = new ReplyRewriter(portOf);
    const requests = [
      ["GET", "k"],
      ["CLUSTER", "SLOTS"],
      ["SET", "k", "v"],
      ["CLUSTER", "NODES"],
      ["GET", "moved"],
    ];
    const replies: Reply[] = [NULL, c.slotsReply(), simple("OK"), bulk(c.nodesText("a")), error("MOVED 5 c:6379")];
    const reqBytes = Buffer.concat(requests.map((r) => encodeCommand(r)));
    const repBytes = Buffer.concat(replies.map((r) => encodeReply(r, 2)));
    // Requests and replies arrive in odd-sized pieces.
    for (let i = 0; i < reqBytes.length; i += 7) rw.request(reqBytes.subarray(i, i + 7));
    const out: Uint8Array[] = [];
    for (let i = 0; i < repBytes.length; i += 5) out.push(rw.reply(repBytes.subarray(i, i + 5)));
    const got = decodeAll(Buffer.concat(out));
    expect(got[0]).toEqual(NULL);
    expect(Buffer.from(encodeReply(got[0], 2)).toString()).toBe("$-1\r\n"); // RESP2 null stays RESP2
    expect(parseClusterSlots(got[1])[2].master.port).toBe(7003);
    expect(got[2]).toEqual(simple("OK"));
    expect(new TextDecoder().decode((got[3] as { value: Uint8Array }).value)).toContain("127.0.0.1:7001@17001");
    expect(got[4]).toEqual(error("MOVED 5 127.0.0.1:7003"));
  });

  it("a bulk that merely looks like a cluster reply is not touched; RESP3 after HELLO 3; MULTI/EXEC", () => {
    const c = cluster();
    const rw = new ReplyRewriter(portOf);
    const text = c.nodesText("a");
    rw.request(encodeCommand(["GET", "nodes-dump"]));
    rw.request(encodeCommand(["HELLO", "3"]));
    rw.request(encodeCommand(["MULTI"]));
    rw.request(encodeCommand(["CLUSTER", "SHARDS"]));
    rw.request(encodeCommand(["GET", "x"]));
    rw.request(encodeCommand(["EXEC"]));
    rw.request(encodeCommand(["GET", "x"]));
    const bytes = Buffer.concat([
      encodeReply(bulk(text), 2),
      encodeReply(map([[bulk("proto"), integer(3)]]), 3),
      encodeReply(simple("OK"), 3),
      encodeReply(simple("QUEUED"), 3),
      encodeReply(simple("QUEUED"), 3),
      encodeReply(array([c.shardsReply(3), NULL]), 3),
      encodeReply(NULL, 3),
    ]);
    const out = Buffer.from(rw.reply(bytes));
    const got = decodeAll(out);
    expect(new TextDecoder().decode((got[0] as { value: Uint8Array }).value)).toBe(text);
    const exec = got[5] as { type: "array"; value: Reply[] };
    expect(parseClusterShards(exec.value[0])[1].nodes[0].port).toBe(7002);
    // The RESP3 null after HELLO 3 is still `_`.
    expect(out.subarray(out.length - 3).toString()).toBe("_\r\n");
  });
});
