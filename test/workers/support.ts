import { SELF } from "cloudflare:test";
import { encodeCommand, ReplyParser, type Reply } from "../../shared/resp/index.ts";
import { concat } from "../../shared/util/bytes.ts";
import { plain } from "../support/plain.ts";

export { plain };

/**
 * A RESP client over a real WebSocket to a node inside workerd, for tests.
 * Each test should use its own node name so tests never share data.
 */
export class NodeClient {
  private readonly parser = new ReplyParser();
  private readonly waiting: ((reply: Reply) => void)[] = [];
  private readonly replies: Reply[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
    });
    ws.addEventListener("message", (event) => {
      const data = event.data;
      this.parser.feed(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer));
      for (let reply = this.parser.next(); reply !== undefined; reply = this.parser.next()) {
        const waiter = this.waiting.shift();
        if (waiter) waiter(reply);
        else this.replies.push(reply);
      }
    });
  }

  static async connect(path: string): Promise<NodeClient> {
    const response = await SELF.fetch(`http://tidekv.test${path}`, { headers: { Upgrade: "websocket" } });
    const ws = response.webSocket;
    if (!ws) throw new Error(`no WebSocket from ${path}: ${response.status} ${await response.text()}`);
    // workerd hands binary frames over as Blobs unless asked for ArrayBuffers.
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    ws.accept();
    return new NodeClient(ws);
  }

  static node(name: string): Promise<NodeClient> {
    return NodeClient.connect(`/node/${name}`);
  }

  /** Sends raw bytes (one frame). */
  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** The next reply. */
  next(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Sends one command and returns its reply. */
  async call(...argv: (string | Uint8Array | number)[]): Promise<Reply> {
    this.ws.send(encodeCommand(argv.map((a) => (typeof a === "number" ? String(a) : a))));
    return this.next();
  }

  /** Sends many commands in one frame and returns their replies in order. */
  async pipeline(commands: (string | Uint8Array | number)[][]): Promise<Reply[]> {
    const frames = commands.map((argv) => encodeCommand(argv.map((a) => (typeof a === "number" ? String(a) : a))));
    this.ws.send(concat(frames));
    const out: Reply[] = [];
    for (let i = 0; i < commands.length; i++) out.push(await this.next());
    return out;
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}

/** A unique node name per test, so tests never share a keyspace. */
let counter = 0;
export function uniqueNode(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

// Note for test authors: the test pool's WebSocket proxy may reorder frames
// sent back to back without waiting for replies (wrangler dev does not); send
// a pipeline as one frame (pipeline()) and keep frame-by-frame tests in test/e2e.
