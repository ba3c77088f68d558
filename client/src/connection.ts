/**
 * One WebSocket carrying RESP: commands out, replies matched to them in order.
 *
 * Commands issued in the same tick are written as one frame (automatic
 * pipelining); `send()` with several commands always puts them next to each
 * other in the byte stream, so ASKING + command or MULTI ... EXEC cannot be
 * split by another caller's command.
 */
import { ReplyParser, encodeCommand, type Reply } from "../../shared/resp/index.ts";
import { concat } from "../../shared/util/bytes.ts";
import { ConnectionError } from "./errors.ts";
import { OPEN, eventReason, messageBytes, type WebSocketConstructor, type WebSocketLike } from "./websocket.ts";

export type Arg = string | Uint8Array | number | bigint;
export type Argv = readonly Arg[];

/** A batch larger than this is sent at once instead of waiting for the end of the tick. */
const FLUSH_BYTES = 8 * 1024 * 1024;

/** RESP3 push kinds that are never the reply to a command. */
const OUT_OF_BAND = new Set(["message", "pmessage", "smessage", "invalidate", "tracking-redir-broken"]);

const textDecoder = new TextDecoder();

interface Waiter {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  readonly name: string;
}

/** A FIFO with O(1) push and shift. */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

export function encodeArgv(argv: Argv): Uint8Array {
  return encodeCommand(argv.map((a) => (typeof a === "number" || typeof a === "bigint" ? String(a) : a)));
}

/** The command's name for messages: its first word, plus the second for container commands. */
export function commandName(argv: Argv): string {
  const first = argText(argv[0]).toUpperCase();
  return first;
}

export function argText(arg: Arg | undefined): string {
  if (arg === undefined) return "";
  if (typeof arg === "string") return arg;
  if (typeof arg === "number" || typeof arg === "bigint") return String(arg);
  return textDecoder.decode(arg);
}

export interface ConnectionEvents {
  /** A reply nobody waits for: RESP3 pushes, pub/sub messages, MONITOR lines. */
  onPush?: (reply: Reply) => void;
  /** The socket closed (either side); `reason` says why. Called once. */
  onClose?: (reason: string, byClient: boolean) => void;
}

export class Connection {
  private readonly parser = new ReplyParser();
  private readonly waiters = new Queue<Waiter>();
  private out: Uint8Array[] = [];
  private outBytes = 0;
  private flushQueued = false;
  private closedReason: string | null = null;
  private closedByClient = false;

  private constructor(
    private readonly ws: WebSocketLike,
    /** The URL for messages (token redacted). */
    readonly url: string,
    private readonly events: ConnectionEvents,
  ) {}

  /** Opens a WebSocket to `url`; rejects with a ConnectionError if it does not open within `timeoutMs`. */
  static open(
    url: string,
    WebSocketImpl: WebSocketConstructor,
    timeoutMs: number,
    events: ConnectionEvents,
    displayUrl = url,
  ): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new WebSocketImpl(url);
      } catch (e) {
        reject(new ConnectionError(`could not connect to ${displayUrl}: ${eventReason({ error: e })}`, { cause: e }));
        return;
      }
      ws.binaryType = "arraybuffer";
      const conn = new Connection(ws, displayUrl, events);
      let settled = false;
      let lastError = "";
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        try {
          ws.close();
        } catch {
          // not open yet
        }
        reject(new ConnectionError(`could not connect to ${displayUrl}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.addEventListener("open", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(conn);
      });
      ws.addEventListener("message", (event) => conn.received(event.data));
      ws.addEventListener("error", (event) => {
        lastError = eventReason(event);
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new ConnectionError(`could not connect to ${displayUrl}: ${lastError}`));
        }
      });
      ws.addEventListener("close", (event) => {
        const reason = lastError || eventReason(event);
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new ConnectionError(`could not connect to ${displayUrl}: ${reason}`));
        }
        conn.closed(reason);
      });
    });
  }

  get isOpen(): boolean {
    return this.closedReason === null && this.ws.readyState === OPEN;
  }

  /** Commands waiting for their replies. */
  get inFlight(): number {
    return this.waiters.length;
  }

  /**
   * Sends the commands back to back (in the current frame) and returns one
   * promise per command, resolved with its reply (error replies included).
   */
  send(commands: readonly Argv[]): Promise<Reply>[] {
    if (this.closedReason !== null || this.ws.readyState !== OPEN) {
      const error = new ConnectionError(`connection to ${this.url} is closed${this.closedReason ? ` (${this.closedReason})` : ""}`);
      return commands.map(() => Promise.reject(error));
    }
    const promises: Promise<Reply>[] = [];
    for (const argv of commands) {
      const bytes = encodeArgv(argv);
      this.out.push(bytes);
      this.outBytes += bytes.length;
      const name = commandName(argv);
      promises.push(new Promise<Reply>((resolve, reject) => this.waiters.push({ resolve, reject, name })));
    }
    if (this.outBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return promises;
  }

  /** Closes the socket; commands still waiting fail with a ConnectionError. */
  close(): void {
    if (this.closedReason !== null) return;
    this.closedByClient = true;
    try {
      this.flush();
      this.ws.close(1000, "client closed");
    } catch {
      // already closing
    }
    this.closed("closed by the client");
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.out.length === 0 || this.closedReason !== null) return;
    const frame = this.out.length === 1 ? this.out[0] : concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    try {
      this.ws.send(frame);
    } catch (e) {
      this.fail(`send failed: ${eventReason({ error: e })}`);
    }
  }

  private received(data: unknown): void {
    const bytes = messageBytes(data);
    if (!bytes || this.closedReason !== null) return;
    try {
      this.parser.feed(bytes);
      for (let reply = this.parser.next(); reply !== undefined; reply = this.parser.next()) this.dispatch(reply);
    } catch (e) {
      this.fail(`invalid reply from the server: ${eventReason({ error: e })}`);
    }
  }

  private dispatch(reply: Reply): void {
    if (reply.type === "push" && (this.waiters.length === 0 || isOutOfBand(reply))) {
      this.events.onPush?.(reply);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(reply);
    else this.events.onPush?.(reply);
  }

  /** Tears the connection down after a protocol failure. */
  private fail(reason: string): void {
    try {
      this.ws.close(1002, "protocol error");
    } catch {
      // ignore
    }
    this.closed(reason);
  }

  private closed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    this.out = [];
    this.outBytes = 0;
    for (const w of this.waiters.drain()) {
      w.reject(
        new ConnectionError(
          this.closedByClient
            ? `connection closed by the client before the reply to ${w.name} arrived`
            : `connection to ${this.url} lost before the reply to ${w.name} arrived (${reason}); the command may or may not have run`,
          { sent: true },
        ),
      );
    }
    this.events.onClose?.(reason, this.closedByClient);
  }
}

function isOutOfBand(reply: Reply & { type: "push" }): boolean {
  const first = reply.value[0];
  if (!first || (first.type !== "bulk" && first.type !== "simple")) return false;
  const kind = first.type === "bulk" ? textDecoder.decode(first.value) : first.value;
  return OUT_OF_BAND.has(kind.toLowerCase());
}
