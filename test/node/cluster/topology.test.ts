import { describe, expect, it } from "vitest";
import {
  createTopology,
  evenSlotRanges,
  parseNodeName,
  promoteReplica,
  rangesFromOwners,
  rangesOf,
  shardsOf,
  SlotMap,
  validateTopology,
  type Topology,
} from "../../../shared/cluster/topology.ts";
import { keySlot } from "../../../shared/cluster/slot.ts";

let n = 0;
/** Deterministic "random" ids: 40 hex characters, all different. */
const hex = (length: number) => (n++).toString(16).padStart(length, "0");

describe("cluster topology", () => {
  it("splits slots as redis-cli --cluster create does", () => {
    expect(evenSlotRanges(3)).toEqual([{ start: 0, end: 5460 }, { start: 5461, end: 10922 }, { start: 10923, end: 16383 }]);
    expect(evenSlotRanges(1)).toEqual([{ start: 0, end: 16383 }]);
  });

  it("hashes keys and hash tags to slots", () => {
    const slot = (k: string) => keySlot(new TextEncoder().encode(k));
    expect([slot("foo"), slot("bar"), slot("hello"), slot("{user1000}.following"), slot("foo{{bar}}zap"), slot("foo{bar}{zap}")]).toEqual([12182, 5061, 866, 3443, 4015, 5061]);
    expect(slot("foo{}{bar}")).toBe(8363);
  });

  it("creates a cluster of named masters and replicas with 40-hex ids", () => {
    const t = createTopology("demo", 3, 2, hex);
    expect(t.epoch).toBe(3);
    expect(t.nodes.map((x) => x.name)).toEqual(["demo-s0-m", "demo-s0-r1", "demo-s0-r2", "demo-s1-m", "demo-s1-r1", "demo-s1-r2", "demo-s2-m", "demo-s2-r1", "demo-s2-r2"]);
    expect(t.nodes.filter((x) => x.role === "master").map((x) => x.configEpoch)).toEqual([1, 2, 3]);
    expect(validateTopology(t)).toBe(null);
    const shards = shardsOf(t);
    expect(shards.map((s) => [s.index, s.master.name, s.replicas.length])).toEqual([[0, "demo-s0-m", 2], [1, "demo-s1-m", 2], [2, "demo-s2-m", 2]]);
    expect(new SlotMap(t).complete).toBe(true);
    expect(new SlotMap(t).owner(12182)!.name).toBe("demo-s2-m");
    expect(() => createTopology("bad name", 3, 1, hex)).toThrow();
    expect(() => createTopology("x", 0, 1, hex)).toThrow();
  });

  it("parses node names", () => {
    expect(parseNodeName("default-s0-m")).toEqual({ cluster: "default", shard: 0, replica: 0 });
    expect(parseNodeName("my-cluster-s12-r3")).toEqual({ cluster: "my-cluster", shard: 12, replica: 3 });
    expect(parseNodeName("default")).toBe(null);
    expect(parseNodeName("t-abc-1")).toBe(null);
  });

  it("promotes a replica: new epoch, roles swapped, slots follow", () => {
    const t = createTopology("demo", 2, 2, hex);
    const [m, r1, r2] = t.nodes;
    const next = promoteReplica(t, r1.id);
    expect(next.epoch).toBe(t.epoch + 1);
    expect(next.nodes.find((x) => x.id === r1.id)).toMatchObject({ role: "master", masterId: null, configEpoch: next.epoch });
    expect(next.nodes.find((x) => x.id === m.id)).toMatchObject({ role: "replica", masterId: r1.id });
    expect(next.nodes.find((x) => x.id === r2.id)).toMatchObject({ role: "replica", masterId: r1.id });
    expect(next.slots[0]).toEqual({ start: 0, end: 8191, masterId: r1.id });
    expect(next.slots[1]).toEqual(t.slots[1]);
    expect(validateTopology(next)).toBe(null);
    expect(() => promoteReplica(t, m.id)).toThrow();
  });

  it("merges owners into ranges", () => {
    const owners: (string | null)[] = new Array(16384).fill("a");
    owners[0] = null;
    owners[866] = "b";
    owners[16383] = "b";
    expect(rangesFromOwners(owners)).toEqual([
      { start: 1, end: 865, masterId: "a" },
      { start: 866, end: 866, masterId: "b" },
      { start: 867, end: 16382, masterId: "a" },
      { start: 16383, end: 16383, masterId: "b" },
    ]);
    const t: Topology = { ...createTopology("demo", 2, 0, hex), slots: [] };
    expect(rangesOf(t, t.nodes[0].id)).toEqual([]);
  });

  it("rejects inconsistent topologies", () => {
    const t = createTopology("demo", 2, 1, hex);
    const [m0, r0, m1] = t.nodes;
    expect(validateTopology({ ...t, slots: [...t.slots, { start: 5, end: 5, masterId: m1.id }] })).toMatch(/assigned twice/);
    expect(validateTopology({ ...t, slots: [{ start: 0, end: 16384, masterId: m0.id }] })).toMatch(/invalid slot range/);
    expect(validateTopology({ ...t, slots: [{ start: 0, end: 10, masterId: r0.id }] })).toMatch(/not a master/);
    expect(validateTopology({ ...t, nodes: t.nodes.map((x) => (x.id === r0.id ? { ...x, masterId: m1.id } : x)) })).toMatch(/another shard/);
    expect(validateTopology({ ...t, nodes: t.nodes.map((x) => (x.id === m0.id ? { ...x, id: "xyz" } : x)) })).toMatch(/40 hex/);
    expect(validateTopology({ ...t, nodes: [...t.nodes, { ...m1, id: hex(40) }] })).toMatch(/duplicate node name/);
    expect(validateTopology({ ...t, migrations: [{ slot: 1, fromId: m0.id, toId: m0.id }] })).toMatch(/between two masters/);
    expect(validateTopology({ ...t, epoch: -1 })).toMatch(/epoch/);
  });
});
