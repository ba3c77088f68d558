/**
 * The load generator's connections: the same code for every system, only the
 * transport differs (a WebSocket with the `ws` package, or TCP with node:net).
 * Commands go out as given (bytes from shared/resp's encodeCommand); replies are
 * counted with shared/resp's ReplyParser.
 */
import { createConnection, type Socket } from "node:net";
import WebSocket from "ws";
import { ReplyParser, type Reply } from "../../shared/resp/index.ts";

export type Endpoint = { kind: "ws"; url: string } | { kind: "tcp"; host: string; port: number };

export function describeEndpoint(e: Endpoint): string {
  return e.kind === "ws" ? e.url : `tcp://${e.host}:${e.port}`;
}

/** Called for every batch of replies that one incoming chunk completed. */
export type ReplyHandler = (count: number, errors: number, firstError: string | undefined) => void;

export abstract class LoadConnection {
  private readonly parser = new ReplyParser();
  private handler: ReplyHandler = () => undefined;
  private closeHandler: (reason: Error) => void = () => undefined;
  protected closing = false;
  private closedFlag = false;

  static async open(endpoint: Endpoint): Promise<LoadConnection> {
    const c: LoadConnection = endpoint.kind === "ws" ? new WsLoadConnection(endpoint.url) : new TcpLoadConnection(endpoint.host, endpoint.port);
    await c.connect();
    return c;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Sets the reply handler (replaces the previous one). */
  onReplies(handler: ReplyHandler): void {
    this.handler = handler;
  }

  /** Called once if the connection closes while not being closed by us, or fails. */
  onClose(handler: (reason: Error) => void): void {
    this.closeHandler = handler;
  }

  abstract send(frame: Uint8Array): void;
  abstract close(): Promise<void>;
  protected abstract connect(): Promise<void>;

  /** Sends the frame and resolves with the replies to its `expected` commands (for setup, not for measuring). */
  request(frame: Uint8Array, expected: number): Promise<Reply[]> {
    return new Promise<Reply[]>((resolve, reject) => {
      const replies: Reply[] = [];
      this.collect = (r) => {
        replies.push(r);
        if (replies.length === expected) {
          this.collect = undefined;
          this.closeHandler = () => undefined;
          resolve(replies);
        }
      };
      this.closeHandler = (e) => {
        this.collect = undefined;
        reject(e);
      };
      this.send(frame);
    });
  }

  private collect: ((reply: Reply) => void) | undefined;

  protected data(chunk: Uint8Array): void {
    this.parser.feed(chunk);
    let count = 0;
    let errors = 0;
    let firstError: string | undefined;
    for (let r = this.parser.next(); r !== undefined; r = this.parser.next()) {
      if (this.collect) {
        this.collect(r);
        continue;
      }
      count++;
      if (r.type === "error") {
        errors++;
        firstError ??= r.value;
      }
    }
    if (count > 0) this.handler(count, errors, firstError);
  }

  protected closed(reason?: Error): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (!this.closing) this.closeHandler(reason ?? new Error("connection closed by the server"));
  }
}

class WsLoadConnection extends LoadConnection {
  private ws: WebSocket | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly url: string) {
    super();
  }

  protected connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: false });
      ws.binaryType = "nodebuffer";
      this.ws = ws;
      let open = false;
      this.done = new Promise<void>((r) => ws.once("close", () => r()));
      ws.once("open", () => {
        open = true;
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        ws.terminate();
        reject(new Error(`WebSocket upgrade to ${this.url} refused: HTTP ${res.statusCode}`));
      });
      ws.on("message", (data: WebSocket.RawData) => {
        if (Array.isArray(data)) for (const d of data) this.data(d);
        else if (data instanceof ArrayBuffer) this.data(new Uint8Array(data));
        else this.data(data);
      });
      ws.on("error", (err) => {
        if (!open) reject(new Error(`cannot connect to ${this.url}: ${err.message}`));
        this.closed(err);
      });
      ws.on("close", (code, reason) => this.closed(new Error(`WebSocket closed: ${code} ${reason.toString("utf8")}`)));
    });
  }

  send(frame: Uint8Array): void {
    this.ws!.send(frame, { binary: true });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (!this.ws || this.isClosed) return;
    this.ws.close(1000);
    const t = setTimeout(() => this.ws?.terminate(), 2000);
    await this.done;
    clearTimeout(t);
  }
}

class TcpLoadConnection extends LoadConnection {
  private socket: Socket | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    super();
  }

  protected connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: this.host, port: this.port });
      this.socket = socket;
      socket.setNoDelay(true);
      let open = false;
      this.done = new Promise<void>((r) => socket.once("close", () => r()));
      socket.once("connect", () => {
        open = true;
        resolve();
      });
      socket.on("data", (chunk: Buffer) => this.data(chunk));
      socket.on("error", (err) => {
        if (!open) reject(new Error(`cannot connect to ${this.host}:${this.port}: ${err.message}`));
        this.closed(err);
      });
      socket.on("close", () => this.closed());
    });
  }

  send(frame: Uint8Array): void {
    this.socket!.write(frame);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (!this.socket || this.isClosed) return;
    this.socket.end();
    const t = setTimeout(() => this.socket?.destroy(), 2000);
    await this.done;
    clearTimeout(t);
  }
}
