import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NodeClient, plain, uniqueNode } from "./support.ts";

const encoder = new TextEncoder();

describe("a node over RESP-over-WebSocket", () => {
  it("answers on /node/NAME and on /resp", async () => {
    const node = await NodeClient.node(uniqueNode());
    expect(plain(await node.call("PING"))).toBe("PONG");
    expect(plain(await node.call("ECHO", "hello"))).toBe("hello");
    node.close();
    const resp = await NodeClient.connect("/resp");
    expect(plain(await resp.call("PING", "x"))).toBe("x");
    resp.close();
  });

  it("keeps nodes apart by name", async () => {
    const a = await NodeClient.node(uniqueNode());
    const b = await NodeClient.node(uniqueNode());
    await a.call("SET", "k", "a");
    expect(plain(await b.call("GET", "k"))).toBe(null);
    a.close();
    b.close();
  });

  it("serves many commands in one frame, in order", async () => {
    const c = await NodeClient.node(uniqueNode());
    const replies = await c.pipeline([["SET", "a", "1"], ["GET", "a"], ["PING"], ["GET", "nope"]]);
    expect(replies.map(plain)).toEqual(["OK", "1", "PONG", null]);
    c.close();
  });

  it("accepts inline commands in text frames", async () => {
    const c = await NodeClient.node(uniqueNode());
    c.sendRaw('SET inline "two words"\r\nGET inline\r\n');
    expect(plain(await c.next())).toBe("OK");
    expect(plain(await c.next())).toBe("two words");
    c.close();
  });

  it("keeps values binary-safe", async () => {
    const c = await NodeClient.node(uniqueNode());
    const key = new Uint8Array([0, 255, 13, 10, 36, 42]);
    const value = new Uint8Array(256).map((_, i) => i);
    expect(plain(await c.call("SET", key, value))).toBe("OK");
    const reply = await c.call("GET", key);
    expect(reply.type).toBe("bulk");
    expect(reply.type === "bulk" && Array.from(reply.value)).toEqual(Array.from(value));
    c.close();
  });

  it("answers a malformed request with Redis's protocol error and closes the connection", async () => {
    const c = await NodeClient.node(uniqueNode());
    c.sendRaw("*1\r\n$3\r\nGET\r\n*x\r\n");
    expect(plain(await c.next())).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
    expect(plain(await c.next())).toEqual({ error: "ERR Protocol error: invalid multibulk length" });
    const closed = await c.closed;
    expect(closed.code).toBe(1002);
  });

  it("refuses a bulk longer than proto-max-bulk-len and stores nothing", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    c.sendRaw(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${16 * 1024 * 1024 + 1}\r\n`);
    expect(plain(await c.next())).toEqual({ error: "ERR Protocol error: invalid bulk length" });
    await c.closed;
    const d = await NodeClient.node(name);
    expect(plain(await d.call("EXISTS", "big"))).toBe(0);
    d.close();
  });

  it("closes the connection cleanly on a frame over the runtime's message limit", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    const huge = new Uint8Array(33 * 1024 * 1024).fill(0x61);
    let sendFailed = false;
    try {
      c.sendRaw(huge);
    } catch {
      sendFailed = true;
    }
    const closed = await c.closed;
    expect(sendFailed || closed.code !== 1000).toBe(true);
    const d = await NodeClient.node(name);
    expect(plain(await d.call("PING"))).toBe("PONG");
    d.close();
  });

  it("QUIT replies OK and closes", async () => {
    const c = await NodeClient.node(uniqueNode());
    expect(plain(await c.call("QUIT"))).toBe("OK");
    expect((await c.closed).code).toBe(1000);
  });

  it("loses no acknowledged write when the object is reset", async () => {
    const name = uniqueNode();
    const c = await NodeClient.node(name);
    const writes: (string | number)[][] = [];
    for (let i = 0; i < 200; i++) writes.push(["SET", `key:${i}`, `value:${i}`]);
    const replies = await c.pipeline(writes);
    expect(replies.every((r) => plain(r) === "OK")).toBe(true);
    await abortAllDurableObjects();
    const d = await NodeClient.node(name);
    const reads = await d.pipeline(writes.map(([, key]) => ["GET", key]));
    expect(reads.map(plain)).toEqual(writes.map(([, , value]) => value));
    d.close();
  });
});
