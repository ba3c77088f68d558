/**
 * Expiry inside workerd: keys with a TTL are removed lazily when touched
 * (see generic.test.ts) and actively by the Durable Object alarm, without any
 * access, in bounded batches (Node.alarm -> Server.expireCycle), each removal
 * replicated as DEL. WATCH on a key that expires before EXEC aborts it.
 *
 * Waiting for a TTL to pass uses real (short) delays in polling loops: no
 * assertion depends on how long anything takes.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Server } from "../../shared/engine/server.ts";
import { NodeClient, plain, uniqueNode } from "./support.ts";
import { captureEffects, withKeyspace, withServer } from "./effects.ts";

const encoder = new TextEncoder();

const stub = (name: string) => (env as unknown as { NODE: DurableObjectNamespace }).NODE.getByName(name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (polling with short real delays) until the wall clock is past `at`. */
async function waitUntilPast(at: number): Promise<void> {
  while (Date.now() <= at) await sleep(Math.min(20, Math.max(1, at - Date.now() + 1)));
}

/** DBSIZE of db 0 as a client sees it. */
async function dbsize(c: NodeClient): Promise<number> {
  return plain(await c.call("DBSIZE")) as number;
}

/** Keys still stored in db 0, expired or not (read without touching any key). */
function stored(name: string): Promise<number> {
  return withKeyspace(name, (keys) => keys.dbSize(0));
}

/** When the node's alarm is set for (ms), or null. */
function alarmTime(name: string): Promise<number | null> {
  return runInDurableObject(stub(name), (_instance, state) => state.storage.getAlarm());
}

/** Whether some key's TTL has passed (read from SQL without touching any key). */
function expiryDue(name: string): Promise<boolean> {
  return withKeyspace(name, (keys) => {
    const next = keys.nextExpiry();
    return next !== null && next <= Date.now();
  });
}

/**
 * Lets the node's alarm run until no stored key is past its TTL: runs the
 * alarm when one is set (the runtime also fires it by itself; every run goes
 * through the same Node.alarm), polling with short real delays. Fails when
 * expired keys remain and no alarm comes to remove them.
 */
async function drainAlarms(name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (!(await expiryDue(name))) return;
    await runDurableObjectAlarm(stub(name));
    await sleep(5);
  }
  throw new Error(`expired keys remain on ${name} and no alarm removes them (alarm: ${await alarmTime(name)})`);
}

/** Records how many keys each active expiry cycle removed, and the budget it was given. */
async function recordCycles(name: string): Promise<{ removed: number; budget: number }[]> {
  const cycles: { removed: number; budget: number }[] = [];
  await withServer(name, (server: Server) => {
    const original = server.expireCycle.bind(server);
    server.expireCycle = (budget: number) => {
      const before = server.stats.expiredKeys;
      const next = original(budget);
      cycles.push({ removed: server.stats.expiredKeys - before, budget });
      return next;
    };
  });
  return cycles;
}

describe("active expiry (Durable Object alarm)", () => {
  it("removes keys whose TTL passed without any access, and replicates each removal as DEL", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    const fx = await captureEffects(name);
    const at = Date.now() + 500;
    await c.call("SET", "gone1", "v");
    await c.call("SET", "gone2", "v");
    await c.call("SET", "stays", "v");
    await c.call("SET", "later", "v");
    expect(plain(await c.call("PEXPIREAT", "gone1", String(at)))).toBe(1);
    expect(plain(await c.call("PEXPIREAT", "gone2", String(at)))).toBe(1);
    expect(plain(await c.call("EXPIRE", "later", "1000"))).toBe(1);
    fx.take();
    expect(await dbsize(c)).toBe(4);

    await waitUntilPast(at);
    await drainAlarms(name);
    // No command touched the keys: only the alarm can have removed them.
    expect(await stored(name)).toBe(2);
    expect(await dbsize(c)).toBe(2);
    expect(fx.take().sort()).toEqual([["DEL", "gone1"], ["DEL", "gone2"]]);
    expect(plain(await c.call("EXISTS", "stays", "later"))).toBe(2);
    // The next wake-up is set for the remaining TTL.
    const later = await withKeyspace(name, (keys) => keys.find(0, encoder.encode("later"))!.expiresAt);
    expect(await alarmTime(name)).toBe(later);
    c.close();
  });

  it("replicates active removals as UNLINK with lazyfree-lazy-expire", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    await withServer(name, (s) => s.config.set([["lazyfree-lazy-expire", "yes"]]));
    const fx = await captureEffects(name);
    const at = Date.now() + 300;
    await c.call("SET", "k", "v");
    await c.call("PEXPIREAT", "k", String(at));
    expect(fx.take()).toEqual([["SET", "k", "v"], ["PEXPIREAT", "k", String(at)]]); // set, not yet expired
    await waitUntilPast(at);
    await drainAlarms(name);
    expect(await stored(name)).toBe(0);
    expect(fx.take()).toEqual([["UNLINK", "k"]]);
    c.close();
  });

  it("removes more expired keys than one run's budget over several runs, none above the budget", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    const cycles = await recordCycles(name);
    const fx = await captureEffects(name);
    const total = 1234;
    await c.pipeline(Array.from({ length: total }, (_, i) => ["SET", `k${i}`, "v"]));
    await c.call("SET", "persistent", "v");
    // One absolute time far enough ahead that every PEXPIREAT below (one frame, so one event
    // with one clock) sets a TTL rather than deleting: DBSIZE below checks that.
    const at = Date.now() + 1500;
    const replies = await c.pipeline(Array.from({ length: total }, (_, i) => ["PEXPIREAT", `k${i}`, String(at)]));
    expect(replies.every((r) => plain(r) === 1)).toBe(true);
    fx.take();
    expect(await dbsize(c)).toBe(total + 1);

    await waitUntilPast(at);
    await drainAlarms(name);
    expect(await stored(name), JSON.stringify({ cycles, alarm: await alarmTime(name), now: Date.now(), at })).toBe(1);
    expect(await dbsize(c)).toBe(1);
    const working = cycles.filter((cycle) => cycle.removed > 0);
    expect(working.reduce((n, cycle) => n + cycle.removed, 0)).toBe(total);
    for (const cycle of cycles) expect(cycle.removed).toBeLessThanOrEqual(cycle.budget);
    expect(cycles[0].budget).toBe(500);
    expect(working.length).toBeGreaterThanOrEqual(Math.ceil(total / 500));
    const effects = fx.take();
    expect(effects.length).toBe(total);
    expect(new Set(effects.map((e) => e.join(" ")))).toEqual(new Set(Array.from({ length: total }, (_, i) => `DEL k${i}`)));
    c.close();
  });
});

describe("WATCH and expiry", () => {
  it("EXEC fails when a watched key expires between WATCH and EXEC", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    const at = Date.now() + 300;
    await c.call("SET", "w", "v");
    await c.call("PEXPIREAT", "w", String(at));
    expect(plain(await c.call("WATCH", "w"))).toBe("OK");
    expect(plain(await c.call("EXISTS", "w"))).toBe(1); // live when watched
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("SET", "done", "1"))).toBe("QUEUED");
    await waitUntilPast(at);
    expect(plain(await c.call("EXEC"))).toBe(null);
    expect(plain(await c.call("EXISTS", "done"))).toBe(0);
    c.close();
  });

  it("EXEC fails when a watched key expires before EXEC even if no alarm or access removed it", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    await c.call("SET", "w", "v");
    expect(plain(await c.call("WATCH", "w"))).toBe("OK");
    await c.call("MULTI");
    await c.call("SET", "done", "1");
    // The TTL passes (set directly, so no alarm can remove the key before EXEC runs).
    await withServer(name, (server: Server) => {
      const record = server.keyspace.find(0, encoder.encode("w"))!;
      const schedule = server.keyspace.onExpirySet;
      server.keyspace.onExpirySet = null;
      server.keyspace.setExpiry(record, 1);
      server.keyspace.onExpirySet = schedule;
    });
    expect(plain(await c.call("EXEC"))).toBe(null);
    expect(plain(await c.call("EXISTS", "done"))).toBe(0);
    c.close();
  });

  it("a key already expired when WATCHed and then removed by the alarm does not abort EXEC; a later write does", async () => {
    const name = uniqueNode("exp");
    const c = await NodeClient.node(name);
    const other = await NodeClient.node(name);
    /** Makes w a key whose TTL has passed, with no alarm that could remove it on its own. */
    const expiredKey = async () => {
      await c.call("SET", "w", "v");
      await withServer(name, (server: Server) => {
        const schedule = server.keyspace.onExpirySet;
        server.keyspace.onExpirySet = null;
        server.keyspace.setExpiry(server.keyspace.find(0, encoder.encode("w"))!, 1);
        server.keyspace.onExpirySet = schedule;
      });
    };
    /** Runs the Durable Object's alarm handler now. */
    const alarm = () => runInDurableObject(stub(name), (instance: unknown) => (instance as { alarm(): void }).alarm());

    await expiredKey();
    expect(plain(await c.call("WATCH", "w"))).toBe("OK");
    await alarm();
    expect(await stored(name)).toBe(0); // the alarm removed it
    await c.call("MULTI");
    await c.call("SET", "done", "1");
    expect(plain(await c.call("EXEC"))).toEqual(["OK"]);

    await c.call("DEL", "done");
    await expiredKey();
    expect(plain(await c.call("WATCH", "w"))).toBe("OK");
    await alarm();
    expect(plain(await other.call("SET", "w", "new"))).toBe("OK"); // a change after the removal counts
    await c.call("MULTI");
    await c.call("SET", "done", "1");
    expect(plain(await c.call("EXEC"))).toBe(null);
    expect(plain(await c.call("EXISTS", "done"))).toBe(0);
    c.close();
    other.close();
  });
});
