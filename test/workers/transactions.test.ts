import { describe, expect, it } from "vitest";
import { NodeClient, plain, uniqueNode } from "./support.ts";

describe("MULTI / EXEC / DISCARD / WATCH", () => {
  it("queues commands and runs them atomically on EXEC", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("MULTI"))).toBe("OK");
    expect(plain(await c.call("SET", "a", "1"))).toBe("QUEUED");
    expect(plain(await c.call("INCR", "a"))).toBe("QUEUED");
    expect(plain(await c.call("GET", "a"))).toBe("QUEUED");
    expect(plain(await c.call("EXEC"))).toEqual(["OK", 2, "2"]);
    expect(plain(await c.call("GET", "a"))).toBe("2");
    c.close();
  });

  it("reports errors of individual commands inside EXEC and runs the rest", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("SET", "s", "text");
    await c.call("MULTI");
    await c.call("INCR", "s");
    await c.call("SET", "t", "1");
    expect(plain(await c.call("EXEC"))).toEqual([{ error: "ERR value is not an integer or out of range" }, "OK"]);
    expect(plain(await c.call("GET", "t"))).toBe("1");
    c.close();
  });

  it("aborts with EXECABORT when a command failed to queue", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("MULTI");
    expect(plain(await c.call("SET", "x", "1"))).toBe("QUEUED");
    expect(plain(await c.call("NOSUCHCOMMAND", "a"))).toEqual({
      error: "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' ",
    });
    expect(plain(await c.call("GET"))).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
    expect(plain(await c.call("EXEC"))).toEqual({ error: "EXECABORT Transaction discarded because of previous errors." });
    expect(plain(await c.call("EXISTS", "x"))).toBe(0);
    c.close();
  });

  it("gives Redis's errors for misuse", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("EXEC"))).toEqual({ error: "ERR EXEC without MULTI" });
    expect(plain(await c.call("DISCARD"))).toEqual({ error: "ERR DISCARD without MULTI" });
    await c.call("MULTI");
    expect(plain(await c.call("MULTI"))).toEqual({ error: "ERR MULTI calls can not be nested" });
    expect(plain(await c.call("WATCH", "k"))).toEqual({ error: "ERR WATCH inside MULTI is not allowed" });
    expect(plain(await c.call("DISCARD"))).toBe("OK");
    expect(plain(await c.call("PING"))).toBe("PONG");
    c.close();
  });

  it("DISCARD drops the queue", async () => {
    const c = await NodeClient.node(uniqueNode());
    await c.call("MULTI");
    await c.call("SET", "d", "1");
    expect(plain(await c.call("DISCARD"))).toBe("OK");
    expect(plain(await c.call("GET", "d"))).toBe(null);
    c.close();
  });

  it("WATCH aborts EXEC when another client writes a watched key", async () => {
    const name = uniqueNode();
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("SET", "w", "1");
    expect(plain(await a.call("WATCH", "w"))).toBe("OK");
    await b.call("SET", "w", "2");
    await a.call("MULTI");
    await a.call("SET", "w", "3");
    const aborted = await a.call("EXEC");
    expect(aborted.type).toBe("nullarray");
    expect(plain(await a.call("GET", "w"))).toBe("2");
    a.close();
    b.close();
  });

  it("WATCH lets EXEC through when nothing touched the key, and UNWATCH forgets", async () => {
    const name = uniqueNode();
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("WATCH", "w");
    await a.call("MULTI");
    await a.call("SET", "w", "mine");
    expect(plain(await a.call("EXEC"))).toEqual(["OK"]);
    await a.call("WATCH", "w");
    await b.call("SET", "w", "theirs");
    await a.call("UNWATCH");
    await a.call("MULTI");
    await a.call("SET", "w", "again");
    expect(plain(await a.call("EXEC"))).toEqual(["OK"]);
    a.close();
    b.close();
  });

  it("WATCH aborts on a delete of the key by another client", async () => {
    const name = uniqueNode();
    const a = await NodeClient.node(name);
    const b = await NodeClient.node(name);
    await a.call("SET", "w", "1");
    await a.call("WATCH", "w");
    await b.call("DEL", "w");
    await a.call("MULTI");
    await a.call("SET", "x", "1");
    expect((await a.call("EXEC")).type).toBe("nullarray");
    a.close();
    b.close();
  });

  it("pipelines a whole transaction in one frame", async () => {
    const c = await NodeClient.node(uniqueNode());
    const replies = await c.pipeline([["MULTI"], ["SET", "p", "1"], ["INCRBY", "p", "41"], ["EXEC"], ["GET", "p"]]);
    expect(replies.map(plain)).toEqual(["OK", "QUEUED", "QUEUED", ["OK", 42], "42"]);
    c.close();
  });
});
