/**
 * Minimal raw RESP clients for e2e and differential tests.
 *
 * `RespTcpClient` (node:net, e.g. redis-server) and `RespWsClient` (the `ws`
 * package, binary frames, e.g. tidekv's `/resp` and `/node/NAME`) share the
 * `RespClient` interface. Both see the server's replies as ONE ordered byte
 * stream, cut into replies by `scanReply` (a framing-only scanner, so the exact
 * bytes of every reply are available: nothing is re-encoded). `command()` then
 * decodes one reply's bytes with the project's `ReplyParser`.
 *
 * Every reply is handed to the oldest waiter: `command`, `commandRaw`,
 * `pipelineRaw` and `readRaw` each wait for the next reply(ies) in order. Bytes
 * sent with `sendRaw` register no waiter: collect their replies with `readRaw()`.
 * Replies that arrive while nobody waits (RESP3 pushes, replies to `sendRaw`)
 * are queued for `readRaw()`.
 *
 *   const c = await RespWsClient.open(tidekv.wsUrl("/resp"));
 *   await c.command("SET", "k", "v");            // { type: "simple", value: "OK" }
 *   await c.commandRaw("GET", "k");              // bytes of "$1\r\nv\r\n"
 *   c.sendRaw("PING\r\n");                       // WS: a string goes as a text frame
 *   await c.readRaw();                           // bytes of "+PONG\r\n"
 *   await c.close();
 */
import { createConnection, type Socket } from "node:net";
import WebSocket from "ws";
import { ReplyParser, encodeCommand, type Reply } from "../../shared/resp/index.ts";
import { concat } from "../../shared/util/bytes.ts";

export type Arg = string | Uint8Array;
export type Argv = readonly Arg[];

export interface RespClient {
  /** Opens the connection. Resolves once it is usable. */
  connect(): Promise<void>;
  /** Sends bytes as they are (WS: a binary frame; a string goes as a text frame). */
  sendRaw(bytes: Uint8Array | string): void;
  /** Sends one command and resolves with its decoded reply. */
  command(...argv: Arg[]): Promise<Reply>;
  /** Sends one command and resolves with the exact bytes of its reply. */
  commandRaw(...argv: Arg[]): Promise<Uint8Array>;
  /** Sends all commands in one write (one WS frame) and resolves with each reply's exact bytes. */
  pipelineRaw(commands: readonly Argv[]): Promise<Uint8Array[]>;
  /** Sends all commands in one write (one WS frame) and resolves with the decoded replies. */
  pipeline(commands: readonly Argv[]): Promise<Reply[]>;
  /** Resolves with the next reply's exact bytes (one queued earlier, or the next to arrive). */
  readRaw(): Promise<Uint8Array>;
  /** Resolves with the next reply, decoded. */
  read(): Promise<Reply>;
  /** With `pushes: "separate"`: resolves with the next push frame's exact bytes. */
  readPush(): Promise<Uint8Array>;
  /**
   * Closes the connection from our side (TCP FIN / WS close frame) and resolves
   * when it is closed; if the server has not finished closing within `graceMs`
   * (default 2000), the connection is torn down.
   */
  close(graceMs?: number): Promise<void>;
  /** Resolves when the connection is closed, by either side. Never rejects. */
  readonly closed: Promise<void>;
  /** True once the connection is closed. */
  readonly isClosed: boolean;
}

export interface RespClientOptions {
  /** How long a waiter (command, readRaw, ...) waits for its reply. Default 30 s. */
  timeoutMs?: number;
  /**
   * "inline" (default): RESP3 push frames (`>`) are replies like any other, in
   * stream order (what the differential tests compare). "separate": push frames
   * bypass the waiters and queue for `readPush()` (client tracking, pub/sub
   * messages) — but then a command whose reply IS a push (SUBSCRIBE in RESP3)
   * must be read with readPush() too.
   */
  pushes?: "inline" | "separate";
}

// ---------------------------------------------------------------------------
// Framing

export class RespFramingError extends Error {
  override name = "RespFramingError";
}

const CR = 13;
const LF = 10;

function findCrlf(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (buf[i] === CR && buf[i + 1] === LF) return i;
  }
  return -1;
}

function parseLength(buf: Uint8Array, from: number, to: number, at: number): number {
  let i = from;
  let neg = false;
  if (buf[i] === 0x2d /* - */) {
    neg = true;
    i++;
  }
  if (i >= to) throw new RespFramingError(`empty length at byte ${at}`);
  let n = 0;
  for (; i < to; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) throw new RespFramingError(`invalid length at byte ${at}: ${showBytes(buf.subarray(from, to))}`);
    n = n * 10 + (c - 0x30);
  }
  return neg ? -n : n;
}

/**
 * Finds where the RESP2/RESP3 reply that starts at `start` ends. Returns the
 * offset just past it, or `undefined` if `buf[start, end)` does not hold the
 * whole reply yet. Throws RespFramingError on bytes that are not RESP.
 * Only framing is checked (lengths, CRLFs, aggregate counts), not contents.
 * An attribute (`|`) counts as part of the reply that follows it.
 */
export function scanReply(buf: Uint8Array, start = 0, end = buf.length): number | undefined {
  const r = scan(buf, start, 1, end);
  return typeof r === "number" ? r : undefined;
}

/** Where an unfinished scan stopped: the start of the first incomplete value and how many values are still due. */
interface ScanState {
  pos: number;
  need: number;
}

/** scanReply's loop, resumable: returns the end offset, or the state to resume from once more bytes are in. */
function scan(buf: Uint8Array, pos: number, need: number, end: number): number | ScanState {
  while (need > 0) {
    if (pos >= end) return { pos, need };
    const type = buf[pos];
    const eol = findCrlf(buf, pos + 1, end);
    if (eol < 0) return { pos, need };
    const next = eol + 2;
    switch (type) {
      case 0x2b: // + simple
      case 0x2d: // - error
      case 0x3a: // : integer
      case 0x2c: // , double
      case 0x28: // ( big number
      case 0x23: // # boolean
      case 0x5f: // _ null
        need--;
        pos = next;
        break;
      case 0x24: // $ bulk
      case 0x21: // ! blob error
      case 0x3d: { // = verbatim
        const len = parseLength(buf, pos + 1, eol, pos);
        if (len < 0) {
          if (len !== -1 || type !== 0x24) throw new RespFramingError(`invalid bulk length ${len} at byte ${pos}`);
          pos = next;
        } else {
          if (next + len + 2 > end) return { pos, need };
          if (buf[next + len] !== CR || buf[next + len + 1] !== LF) {
            throw new RespFramingError(`bulk of length ${len} at byte ${pos} is not followed by CRLF`);
          }
          pos = next + len + 2;
        }
        need--;
        break;
      }
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: { // > push
        const n = parseLength(buf, pos + 1, eol, pos);
        if (n < 0) {
          if (n !== -1 || type !== 0x2a) throw new RespFramingError(`invalid aggregate length ${n} at byte ${pos}`);
          need--;
        } else {
          need += n - 1;
        }
        pos = next;
        break;
      }
      case 0x25: { // % map
        const n = parseLength(buf, pos + 1, eol, pos);
        if (n < 0) throw new RespFramingError(`invalid map length ${n} at byte ${pos}`);
        need += 2 * n - 1;
        pos = next;
        break;
      }
      case 0x7c: { // | attribute: its pairs, then the value it annotates
        const n = parseLength(buf, pos + 1, eol, pos);
        if (n < 0) throw new RespFramingError(`invalid attribute length ${n} at byte ${pos}`);
        need += 2 * n;
        pos = next;
        break;
      }
      default:
        throw new RespFramingError(
          `unexpected reply type byte ${JSON.stringify(String.fromCharCode(type))} at byte ${pos}: ${showBytes(buf.subarray(pos, Math.min(end, pos + 64)))}`,
        );
    }
  }
  return pos;
}

/**
 * Splits a top-level aggregate reply (`*`, `~`, `%`, `>`) into the exact bytes
 * of its header line and of each element (a map yields keys and values as
 * separate elements). Returns undefined for non-aggregate or null replies.
 */
export function splitAggregate(reply: Uint8Array): { header: Uint8Array; elements: Uint8Array[] } | undefined {
  const type = reply[0];
  if (type !== 0x2a && type !== 0x7e && type !== 0x25 && type !== 0x3e) return undefined;
  const eol = findCrlf(reply, 1, reply.length);
  if (eol < 0) return undefined;
  let n = parseLength(reply, 1, eol, 0);
  if (n < 0) return undefined;
  if (type === 0x25) n *= 2;
  const elements: Uint8Array[] = [];
  let pos = eol + 2;
  for (let i = 0; i < n; i++) {
    const e = scanReply(reply, pos);
    if (e === undefined) throw new RespFramingError("truncated aggregate");
    elements.push(reply.subarray(pos, e));
    pos = e;
  }
  return { header: reply.subarray(0, eol + 2), elements };
}

/** Decodes the bytes of exactly one reply with the project's ReplyParser. */
export function decodeReply(bytes: Uint8Array): Reply {
  const parser = new ReplyParser();
  parser.feed(bytes);
  const reply = parser.next();
  if (reply === undefined) {
    throw new RespFramingError(`ReplyParser wants more bytes than one framed reply: ${showBytes(bytes)}`);
  }
  return reply;
}

// ---------------------------------------------------------------------------
// Byte helpers

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? textEncoder.encode(data) : data;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytes as a UTF-8 string (lossy for binary data). */
export function utf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

/**
 * Human-readable bytes, e.g. `"$1\r\nv\r\n"`: printable ASCII as is, `\r \n \t
 * \\ \"` escaped, other bytes as `\xNN`. Long inputs are cut at `max` bytes.
 */
export function showBytes(bytes: Uint8Array | string, max = 2000): string {
  const b = toBytes(bytes);
  let s = '"';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === 0x0d) s += "\\r";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x09) s += "\\t";
    else if (c === 0x5c) s += "\\\\";
    else if (c === 0x22) s += '\\"';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += "\\x" + c.toString(16).padStart(2, "0");
  }
  s += '"';
  if (b.length > max) s += ` ... (${b.length - max} more bytes, ${b.length} in all)`;
  return s;
}

/** A command line for messages: `SET k "a b"`. */
export function describeArgv(argv: Argv): string {
  return argv
    .map((a) => {
      const bytes = toBytes(a);
      const plain = bytes.length > 0 && bytes.every((c) => c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x27 && c !== 0x5c);
      return plain ? utf8(bytes) : showBytes(bytes, 200);
    })
    .join(" ");
}

// ---------------------------------------------------------------------------
// The shared client machinery

interface Waiter {
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  what: string;
}

abstract class BaseRespClient implements RespClient {
  readonly closed: Promise<void>;
  protected readonly timeoutMs: number;
  private resolveClosed!: () => void;
  private closedFlag = false;
  private buf = new Uint8Array(64 * 1024);
  private len = 0;
  /** Progress of the scan of the incomplete reply at buf[0] (so big replies are not rescanned per chunk). */
  private resume: ScanState = { pos: 0, need: 1 };
  private readonly inbox: Uint8Array[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly pushInbox: Uint8Array[] = [];
  private readonly pushWaiters: Waiter[] = [];
  private readonly separatePushes: boolean;
  private failure: Error | undefined;

  constructor(options: RespClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.separatePushes = options.pushes === "separate";
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  abstract connect(): Promise<void>;
  protected abstract write(bytes: Uint8Array | string): void;
  protected abstract shutdown(): void;
  protected abstract destroy(): void;

  sendRaw(bytes: Uint8Array | string): void {
    if (this.closedFlag) throw new Error("connection is closed");
    this.write(bytes);
  }

  command(...argv: Arg[]): Promise<Reply> {
    return this.commandRaw(...argv).then(decodeReply);
  }

  commandRaw(...argv: Arg[]): Promise<Uint8Array> {
    const p = this.wait(describeArgv(argv));
    this.sendOrFail(encodeCommand(argv));
    return p;
  }

  pipelineRaw(commands: readonly Argv[]): Promise<Uint8Array[]> {
    const ps = commands.map((argv) => this.wait(describeArgv(argv)));
    this.sendOrFail(concat(commands.map((argv) => encodeCommand([...argv]))));
    return Promise.all(ps);
  }

  async pipeline(commands: readonly Argv[]): Promise<Reply[]> {
    return (await this.pipelineRaw(commands)).map(decodeReply);
  }

  readRaw(): Promise<Uint8Array> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return this.wait("readRaw()");
  }

  readPush(): Promise<Uint8Array> {
    if (!this.separatePushes) throw new Error('readPush() needs the option pushes: "separate"');
    const queued = this.pushInbox.shift();
    if (queued) return Promise.resolve(queued);
    return this.wait("readPush()", this.pushWaiters);
  }

  async read(): Promise<Reply> {
    return decodeReply(await this.readRaw());
  }

  async close(graceMs = 2000): Promise<void> {
    if (!this.closedFlag) {
      this.shutdown();
      const t = setTimeout(() => this.destroy(), graceMs);
      await this.closed;
      clearTimeout(t);
    }
  }

  /** Replies received that no waiter has taken yet. */
  get pending(): number {
    return this.inbox.length;
  }

  // -- for subclasses

  protected onData(chunk: Uint8Array): void {
    if (this.failure) return;
    if (this.len + chunk.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + chunk.length) cap *= 2;
      const nb = new Uint8Array(cap);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    let start = 0;
    try {
      for (;;) {
        const r = scan(this.buf, this.resume.pos, this.resume.need, this.len);
        if (typeof r !== "number") {
          this.resume = r;
          break;
        }
        this.deliver(this.buf.slice(start, r));
        start = r;
        this.resume = { pos: start, need: 1 };
      }
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      this.destroy();
      return;
    }
    if (start > 0) {
      this.buf.copyWithin(0, start, this.len);
      this.len -= start;
      this.resume = { pos: this.resume.pos - start, need: this.resume.need };
    }
  }

  protected onClosed(reason?: Error): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const tail = this.len > 0 ? `; ${this.len} unparsed bytes: ${showBytes(this.buf.subarray(0, this.len), 200)}` : "";
    this.fail(reason ?? new Error(`connection closed by the server${tail}`));
    this.resolveClosed();
  }

  // -- internals

  private sendOrFail(bytes: Uint8Array): void {
    try {
      this.sendRaw(bytes);
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private wait(what: string, queue: Waiter[] = this.waiters): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(new Error(`${what}: ${this.failure.message}`));
    return new Promise<Uint8Array>((resolve, reject) => {
      const w: Waiter = { resolve, reject, what };
      if (this.timeoutMs > 0 && Number.isFinite(this.timeoutMs)) {
        w.timer = setTimeout(() => {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          // The reply stream is now out of step with the waiters: fail the rest.
          this.fail(new Error(`no reply within ${this.timeoutMs} ms`));
          reject(new Error(`${what}: no reply within ${this.timeoutMs} ms`));
          this.destroy();
        }, this.timeoutMs);
      }
      queue.push(w);
    });
  }

  private deliver(reply: Uint8Array): void {
    const isPush = this.separatePushes && reply[0] === 0x3e; /* > */
    const w = (isPush ? this.pushWaiters : this.waiters).shift();
    if (!w) {
      (isPush ? this.pushInbox : this.inbox).push(reply);
      return;
    }
    if (w.timer) clearTimeout(w.timer);
    w.resolve(reply);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of [...this.waiters.splice(0), ...this.pushWaiters.splice(0)]) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new Error(`${w.what}: ${err.message}`));
    }
  }
}

// ---------------------------------------------------------------------------
// TCP

export class RespTcpClient extends BaseRespClient {
  private socket: Socket | undefined;

  constructor(
    readonly port: number,
    readonly host = "127.0.0.1",
    options?: RespClientOptions,
  ) {
    super(options);
  }

  /** Creates and connects a client. */
  static async open(port: number, host = "127.0.0.1", options?: RespClientOptions): Promise<RespTcpClient> {
    const c = new RespTcpClient(port, host, options);
    await c.connect();
    return c;
  }

  connect(): Promise<void> {
    if (this.socket) throw new Error("already connected");
    return new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: this.host, port: this.port });
      this.socket = socket;
      socket.setNoDelay(true);
      let open = false;
      socket.once("connect", () => {
        open = true;
        resolve();
      });
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
      socket.on("error", (err) => {
        if (!open) reject(new Error(`cannot connect to ${this.host}:${this.port}: ${err.message}`));
        this.onClosed(err);
      });
      socket.on("close", () => this.onClosed());
      // A server that half-closes (FIN) is done with us.
      socket.on("end", () => socket.end());
    });
  }

  protected write(bytes: Uint8Array | string): void {
    if (!this.socket) throw new Error("not connected");
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  }

  protected shutdown(): void {
    if (!this.socket) return this.onClosed();
    this.socket.end();
  }

  protected destroy(): void {
    if (!this.socket) return this.onClosed();
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------
// WebSocket

export class RespWsClient extends BaseRespClient {
  private ws: WebSocket | undefined;
  /** Close code and reason sent by the server, once closed. */
  closeCode: number | undefined;
  closeReason: string | undefined;

  private readonly headers: Record<string, string> | undefined;

  constructor(
    readonly url: string,
    options?: RespClientOptions & { headers?: Record<string, string> },
  ) {
    super(options);
    this.headers = options?.headers;
  }

  /** Creates and connects a client. */
  static async open(url: string, options?: RespClientOptions & { headers?: Record<string, string> }): Promise<RespWsClient> {
    const c = new RespWsClient(url, options);
    await c.connect();
    return c;
  }

  connect(): Promise<void> {
    if (this.ws) throw new Error("already connected");
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.url, { headers: this.headers, perMessageDeflate: false });
      ws.binaryType = "nodebuffer";
      this.ws = ws;
      let open = false;
      ws.once("open", () => {
        open = true;
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          const err = new Error(`WebSocket upgrade to ${this.url} refused: HTTP ${res.statusCode} ${body.slice(0, 500)}`);
          reject(err);
          this.onClosed(err);
        });
        res.on("error", () => undefined);
        ws.terminate();
      });
      ws.on("message", (data: WebSocket.RawData) => {
        if (Array.isArray(data)) for (const d of data) this.onData(d);
        else if (data instanceof ArrayBuffer) this.onData(new Uint8Array(data));
        else this.onData(data);
      });
      ws.on("error", (err) => {
        if (!open) reject(new Error(`cannot connect to ${this.url}: ${err.message}`));
        this.onClosed(err);
      });
      ws.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString("utf8");
        this.onClosed();
      });
    });
  }

  protected write(bytes: Uint8Array | string): void {
    if (!this.ws) throw new Error("not connected");
    if (typeof bytes === "string") this.ws.send(bytes, { binary: false });
    else this.ws.send(bytes, { binary: true });
  }

  protected shutdown(): void {
    if (!this.ws) return this.onClosed();
    this.ws.close(1000);
  }

  protected destroy(): void {
    if (!this.ws) return this.onClosed();
    this.ws.terminate();
  }
}
