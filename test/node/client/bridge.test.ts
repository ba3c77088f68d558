/** `tidekv bridge` (plain mode) over a mock node: bytes both ways, one WebSocket per TCP connection, the token. */
import { afterEach, describe, expect, it } from "vitest";
import { createConnection } from "node:net";
import { bulk, error, OK, simple } from "../../../shared/resp/index.ts";
import { Bridge } from "../../../client/cli/bridge.ts";
import { MockServer, type Handler } from "./mock-node.ts";

let server: MockServer | undefined;
let bridge: Bridge | undefined;

afterEach(async () => {
  await bridge?.close();
  await server?.stop();
  bridge = server = undefined;
});

async function setup(handler: Handler, token?: string) {
  server = await MockServer.start(handler);
  const logs: string[] = [];
  bridge = new Bridge({ listen: 0, url: server.url("/node/n1"), token, log: (l) => logs.push(l) });
  await bridge.start();
  return { server, bridge, logs };
}

/** Writes `payload` (possibly in pieces) and collects bytes until `until` matches or the peer closes. */
function exchange(port: number, pieces: (string | Buffer)[], until: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let text = "";
    socket.on("connect", () => pieces.forEach((p) => socket.write(p)));
    socket.on("data", (d) => {
      text += d.toString("latin1");
      if (until(text)) {
        socket.end();
        resolve({ text, closed: false });
      }
    });
    socket.on("close", () => resolve({ text, closed: true }));
    socket.on("error", reject);
  });
}

describe("bridge (plain)", () => {
  it("forwards bytes unchanged both ways, inline commands and commands split across writes included", async () => {
    const { server, bridge } = await setup((argv) => (argv[0] === "ECHO" ? bulk(argv[1]) : simple(argv.join("|"))));
    const { text } = await exchange(bridge.port, ["PING\r\n", "*2\r\n$4\r\nECHO\r\n$3\r", "\nabc\r\n"], (t) => t.includes("abc"));
    expect(text).toBe("+PING\r\n$3\r\nabc\r\n");
    expect(server.accepted.get("n1")).toBe(1);
  });

  it("gives every TCP connection its own WebSocket (connection state stays per connection)", async () => {
    const { server, bridge } = await setup((argv, conn) => {
      if (argv[0] === "SELECT") {
        conn.db = Number(argv[1]);
        return OK;
      }
      return simple(`db${conn.db}`);
    });
    const one = exchange(bridge.port, ["SELECT 5\r\nWHERE\r\n"], (t) => t.includes("db"));
    const two = exchange(bridge.port, ["WHERE\r\n"], (t) => t.includes("db"));
    expect((await one).text).toBe("+OK\r\n+db5\r\n");
    expect((await two).text).toBe("+db0\r\n");
    expect(server.accepted.get("n1")).toBe(2);
  });

  it("with a token: ?token= on the URL and AUTH first, its reply swallowed", async () => {
    const { server, bridge } = await setup((argv, conn) => {
      if (argv[0] === "AUTH") return argv[2] === "s3cret" ? OK : error("WRONGPASS invalid username-password pair or user is disabled.");
      return simple(`token=${conn.token}`);
    }, "s3cret");
    const { text } = await exchange(bridge.port, ["PING\r\n"], (t) => t.includes("\r\n"));
    expect(text).toBe("+token=s3cret\r\n");
    expect(server.received.map((r) => r.argv)).toEqual([["AUTH", "default", "s3cret"], ["PING"]]);
  });

  it("a refused token closes the TCP connection and logs why", async () => {
    const { bridge, logs } = await setup((argv) => (argv[0] === "AUTH" ? error("WRONGPASS invalid username-password pair or user is disabled.") : OK), "bad");
    const { text, closed } = await exchange(bridge.port, ["PING\r\n"], () => false);
    expect(closed).toBe(true);
    expect(text).toBe("");
    expect(logs.join("\n")).toMatch(/authentication to ws:\/\/127\.0\.0\.1:\d+\/node\/n1 failed: WRONGPASS/);
  });

  it("the server closing the WebSocket closes the TCP connection (QUIT)", async () => {
    const { bridge } = await setup((argv, conn) => {
      if (argv[0] === "QUIT") {
        setTimeout(() => conn.drop(), 10);
        return OK;
      }
      return OK;
    });
    const { text, closed } = await exchange(bridge.port, ["QUIT\r\n"], () => false);
    expect(text).toBe("+OK\r\n");
    expect(closed).toBe(true);
  });
});
