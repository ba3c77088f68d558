// Helpers for the Deno host's tests (deno/*_test.ts).
import { encodeCommand, ReplyParser, type Reply } from "../shared/resp/index.ts";
import type { Node } from "../shared/engine/node.ts";
import type { Connection } from "../shared/engine/connection.ts";
import { plain } from "../test/support/plain.ts";

export { plain };

type Arg = string | number | Uint8Array;
const encode = (argv: Arg[]) => encodeCommand(argv.map((a) => (typeof a === "number" ? String(a) : a)));

/** A client on a Node through a fake transport: each call runs synchronously and returns its replies. */
export class FakeClient {
  private readonly parser = new ReplyParser();
  private readonly replies: Reply[] = [];
  readonly connection: Connection;
  closedWith: { code: number; reason: string } | null = null;

  constructor(private readonly node: Node) {
    this.connection = node.open({
      send: (bytes) => {
        this.parser.feed(bytes);
        for (let r = this.parser.next(); r !== undefined; r = this.parser.next()) this.replies.push(r);
      },
      close: (code, reason) => {
        this.closedWith = { code, reason };
      },
    });
  }

  /** Sends one command; returns its reply as plain JS. */
  call(...argv: Arg[]): unknown {
    const replies = this.pipeline([argv]);
    if (replies.length !== 1) throw new Error(`expected one reply, got ${replies.length}`);
    return replies[0];
  }

  /** Sends commands in one message; returns every reply that came back. */
  pipeline(commands: Arg[][]): unknown[] {
    const parts = commands.map(encode);
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    this.node.message(this.connection, frame);
    return this.replies.splice(0).map(plain);
  }

  close(): void {
    this.node.closed(this.connection);
  }
}

/** A RESP client over a real WebSocket (the global one). */
export class WsClient {
  private readonly parser = new ReplyParser();
  private readonly waiting: ((reply: Reply) => void)[] = [];
  private readonly ready: Reply[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    ws.addEventListener("message", (event) => {
      const data = event.data;
      this.parser.feed(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer));
      for (let r = this.parser.next(); r !== undefined; r = this.parser.next()) {
        const waiter = this.waiting.shift();
        if (waiter) waiter(r);
        else this.ready.push(r);
      }
    });
  }

  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(new WsClient(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  private next(): Promise<Reply> {
    const r = this.ready.shift();
    return r ? Promise.resolve(r) : new Promise((resolve) => this.waiting.push(resolve));
  }

  async call(...argv: Arg[]): Promise<unknown> {
    this.ws.send(encode(argv));
    return plain(await this.next());
  }

  async pipeline(commands: Arg[][]): Promise<unknown[]> {
    const parts = commands.map(encode);
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    this.ws.send(frame);
    const out: unknown[] = [];
    for (let i = 0; i < commands.length; i++) out.push(plain(await this.next()));
    return out;
  }

  async close(): Promise<void> {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
    await this.closed;
  }
}

/** Polls `check` every 20 ms until it returns true; fails after `limitMs` (a wait, not a timing assertion). */
export async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One field of an INFO reply. */
export function infoField(info: unknown, field: string): string | undefined {
  return String(info).match(new RegExp(`^${field}:(.*)$`, "m"))?.[1]?.trim();
}
