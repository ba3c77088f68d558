/**
 * Topology changes under a /resp client: the coordinator's failover (MOVED
 * from the demoted master), a slot migration (ASK) and a slot reassignment,
 * all absorbed by the proxy, which refreshes its topology and retries.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { evenSlotRanges } from "../../shared/cluster/topology.ts";
import { caughtUp, clusterReady, coordinator, eventually, info, keysOnShard, shardOf, slotOf } from "./proxy-support.ts";
import { NodeClient, plain } from "./support.ts";

beforeAll(async () => {
  await clusterReady();
});

/** How many errors starting with `code` node `name` has answered (INFO errorstats). */
async function errorCount(name: string, code: string): Promise<number> {
  const c = await NodeClient.node(name);
  try {
    const line = await info(c, "errorstats", `errorstat_${code}`);
    return line ? Number(/count=(\d+)/.exec(line)![1]) : 0;
  } finally {
    c.close();
  }
}

describe("topology changes through the proxy", () => {
  it("a failover: the demoted master's MOVED is absorbed by a refresh", async () => {
    const c = await NodeClient.connect("/resp");
    const [key] = keysOnShard("fo:", 0, 1);
    const before = await shardOf(slotOf(key));
    expect(plain(await c.call("SET", key, "v1"))).toBe("OK");
    await caughtUp(before.master, before.replicas[0]);
    const movedBefore = await errorCount(before.master, "MOVED");

    await coordinator().failover(0);
    const after = await shardOf(slotOf(key));
    expect(after.master).toBe(before.replicas[0]);
    // The demoted master knows it (it redirects) before we go on.
    const old = await NodeClient.node(before.master);
    await eventually(async () => (plain(await old.call("GET", key)) as { error?: string }).error?.startsWith("MOVED") === true, "old master redirects");
    old.close();

    // Same proxy connection, same session: it still routes by the old topology.
    expect(plain(await c.call("GET", key))).toBe("v1");
    expect(await errorCount(before.master, "MOVED")).toBeGreaterThan(movedBefore);
    expect(plain(await c.call("SET", key, "v2"))).toBe("OK");
    expect(plain(await c.call("MGET", key, ...keysOnShard("fo:", 1, 2)))).toEqual(["v2", null, null]);
    const direct = await NodeClient.node(after.master);
    expect(plain(await direct.call("GET", key))).toBe("v2");
    direct.close();
    c.close();
  });

  it("a slot being migrated: ASK is followed with ASKING, the client sees values", async () => {
    const c = await NodeClient.connect("/resp");
    const present = "mig:{m}:present";
    const absent = "mig:{m}:absent";
    const slot = slotOf(present);
    const from = await shardOf(slot);
    const toShard = (from.index + 1) % 3;
    expect(plain(await c.call("SET", present, "here"))).toBe("OK");
    const asksBefore = await errorCount(from.master, "ASK");

    await coordinator().migrateSlot(slot, toShard);
    const source = await NodeClient.node(from.master);
    await eventually(async () => (plain(await source.call("GET", absent)) as { error?: string }).error?.startsWith("ASK") === true, "source answers ASK");

    // Present on the source: served there. Absent: ASK to the target, answered there.
    expect(plain(await c.call("GET", present))).toBe("here");
    expect(plain(await c.call("GET", absent))).toBeNull();
    expect(plain(await c.call("SET", absent, "there"))).toBe("OK");
    expect(plain(await c.call("GET", absent))).toBe("there");
    expect(await errorCount(from.master, "ASK")).toBeGreaterThanOrEqual(asksBefore + 3);
    // The key was written on the target.
    const target = await NodeClient.node((await shardOf(evenSlotRanges(3)[toShard].start)).master);
    expect(plain(await target.call("ASKING"))).toBe("OK");
    expect(plain(await target.call("GET", absent))).toBe("there");
    target.close();
    await coordinator().migrateSlot(slot, null);
    source.close();
    c.close();
  });

  it("a slot given to another shard: MOVED, refresh, retry", async () => {
    const c = await NodeClient.connect("/resp");
    const key = "reassign:{r}";
    const slot = slotOf(key);
    const from = await shardOf(slot);
    expect(plain(await c.call("SET", key, "old-owner"))).toBe("OK");
    const toShard = (from.index + 2) % 3;
    await coordinator().assignSlots(slot, slot, toShard);
    const source = await NodeClient.node(from.master);
    await eventually(async () => (plain(await source.call("GET", key)) as { error?: string }).error?.startsWith("MOVED") === true, "old owner redirects");
    source.close();
    // Keys are not moved by a reassignment: the new owner has none.
    expect(plain(await c.call("GET", key))).toBeNull();
    expect(plain(await c.call("SET", key, "new-owner"))).toBe("OK");
    expect(plain(await c.call("GET", key))).toBe("new-owner");
    const now = await shardOf(slot);
    expect(now.index).toBe(toShard);
    const direct = await NodeClient.node(now.master);
    expect(plain(await direct.call("GET", key))).toBe("new-owner");
    direct.close();
    c.close();
  });
});
