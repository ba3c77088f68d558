/**
 * The user's path end to end: `scripts/start.mjs` (what `npm start` runs) serves
 * tidekv; RESP over WebSocket on /resp and /node/NAME works (pipelining, a
 * command split across frames, text frames, inline commands); data survives a
 * restart of the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTidekv, type TidekvServer } from "../support/processes.ts";
import { RespWsClient, showBytes, toBytes, utf8 } from "../support/resp-client.ts";
import { encodeCommand } from "../../shared/resp/index.ts";

const raw = (s: string) => showBytes(toBytes(s));
const got = (b: Uint8Array) => showBytes(b);

describe("npm start (scripts/start.mjs → wrangler dev)", () => {
  let server: TidekvServer;
  const clients: RespWsClient[] = [];
  const open = async (path: string) => {
    const c = await RespWsClient.open(server.wsUrl(path), { timeoutMs: 20_000 });
    clients.push(c);
    return c;
  };
  const nodeName = `e2e-start-${Date.now().toString(36)}`;

  beforeAll(async () => {
    server = await startTidekv();
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server?.stop();
  });

  it("answers HTTP on 127.0.0.1", async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await fetch(server.url + "/");
    await res.arrayBuffer();
    expect(res.status).toBeLessThan(500);
  });

  it("/resp: PING, SET, GET", async () => {
    const c = await open("/resp");
    expect(got(await c.commandRaw("PING"))).toBe(raw("+PONG\r\n"));
    expect(got(await c.commandRaw("SET", "k", "v"))).toBe(raw("+OK\r\n"));
    expect(got(await c.commandRaw("GET", "k"))).toBe(raw("$1\r\nv\r\n"));
    expect(await c.command("GET", "k")).toEqual({ type: "bulk", value: toBytes("v") });
  });

  it("/resp: three commands pipelined in one frame", async () => {
    const c = await open("/resp");
    const replies = await c.pipelineRaw([
      ["SET", "p1", "one"],
      ["GET", "p1"],
      ["ECHO", "three"],
    ]);
    expect(replies.map(got)).toEqual([raw("+OK\r\n"), raw("$3\r\none\r\n"), raw("$5\r\nthree\r\n")]);
  });

  it("/resp: one command split across two frames", async () => {
    const c = await open("/resp");
    const bytes = encodeCommand(["SET", "split", "across-frames"]);
    const cut = Math.floor(bytes.length / 2);
    c.sendRaw(bytes.slice(0, cut));
    // Let the first half arrive on its own before the rest.
    await new Promise((r) => setTimeout(r, 100));
    c.sendRaw(bytes.slice(cut));
    expect(got(await c.readRaw())).toBe(raw("+OK\r\n"));
    expect(got(await c.commandRaw("GET", "split"))).toBe(raw("$13\r\nacross-frames\r\n"));
  });

  it("/resp: a command split at every byte, one frame per byte", async () => {
    const c = await open("/resp");
    const bytes = encodeCommand(["SET", "bytewise", "value!"]);
    for (let i = 0; i < bytes.length; i++) c.sendRaw(bytes.slice(i, i + 1));
    expect(got(await c.readRaw())).toBe(raw("+OK\r\n"));
    expect(got(await c.commandRaw("GET", "bytewise"))).toBe(raw("$6\r\nvalue!\r\n"));
  });

  it("/resp: replies to many small frames come back in the order sent", async () => {
    const c = await open("/resp");
    for (let i = 0; i < 100; i++) c.sendRaw(`ECHO ${i}\r\n`);
    const replies: string[] = [];
    for (let i = 0; i < 100; i++) replies.push(got(await c.readRaw()));
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => raw(`$${String(i).length}\r\n${i}\r\n`)));
  });

  it("/resp: inline command and RESP in text frames", async () => {
    const c = await open("/resp");
    c.sendRaw("PING\r\n"); // a text frame holding an inline command
    expect(got(await c.readRaw())).toBe(raw("+PONG\r\n"));
    c.sendRaw(utf8(encodeCommand(["ECHO", "text"]))); // RESP in a text frame
    expect(got(await c.readRaw())).toBe(raw("$4\r\ntext\r\n"));
  });

  it("/node/NAME: SET and GET on one named node", async () => {
    const c = await open(`/node/${nodeName}`);
    expect(got(await c.commandRaw("PING"))).toBe(raw("+PONG\r\n"));
    expect(got(await c.commandRaw("SET", "nk", "nv"))).toBe(raw("+OK\r\n"));
    expect(got(await c.commandRaw("GET", "nk"))).toBe(raw("$2\r\nnv\r\n"));
  });

  it("keeps data across a restart", async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    const port = server.port;
    await server.restart();
    expect(server.port).toBe(port);

    const c = await open("/resp");
    expect(got(await c.commandRaw("GET", "k"))).toBe(raw("$1\r\nv\r\n"));
    expect(got(await c.commandRaw("GET", "split"))).toBe(raw("$13\r\nacross-frames\r\n"));

    const n = await open(`/node/${nodeName}`);
    expect(got(await n.commandRaw("GET", "nk"))).toBe(raw("$2\r\nnv\r\n"));
  });
});
