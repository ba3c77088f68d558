import type { DialHandlers, NodeHost, NodeSocket } from "../shared/engine/host.ts";

/** setTimeout's longest delay; a later wake-up fires early and asks again. */
const MAX_DELAY = 2 ** 31 - 1;

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface DenoHostOptions {
  nodeName: string;
  /** A node of this process by name: the URL it is served at (loopback). */
  urlOf?: (name: string) => string;
  log?: (level: LogLevel, message: string) => void;
  /** Presented on every link this node opens (Authorization: Bearer), as the Durable Object does. */
  token?: string | null;
}

/**
 * NodeHost on Deno: one setTimeout stands in for the Durable Object alarm,
 * links to other nodes are WebSockets opened with the global WebSocket.
 * `onWake` is the node's alarm(); the server sets it once the node exists.
 */
export class DenoHost implements NodeHost {
  readonly runtime = "deno";
  readonly nodeName: string;
  onWake: () => void = () => {};
  /** Runs one event's work (a wake-up, a link's frame): the server makes it one commit (gate.ts). */
  runEvent: (fn: () => void) => void = (fn) => fn();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly links = new Set<WebSocket>();
  private closed = false;

  constructor(private readonly options: DenoHostOptions) {
    this.nodeName = options.nodeName;
  }

  now(): number {
    return Date.now();
  }

  setWakeup(at: number | null): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (at === null || this.closed) return;
    const delay = Math.min(Math.max(0, at - Date.now()), MAX_DELAY);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.guarded("wake-up", () => this.onWake());
    }, delay);
  }

  log(level: LogLevel, message: string): void {
    this.options.log?.(level, `[tidekv ${this.nodeName}] ${message}`);
  }

  /** An own property, not a method: the engine calls it detached (`const dial = host.dial`). */
  readonly dial = (target: string, handlers: DialHandlers): Promise<NodeSocket> => {
    const url = /^wss?:\/\//i.test(target) ? target : this.options.urlOf?.(target);
    if (!url) return Promise.reject(new Error(`cannot resolve node ${target}`));
    if (this.closed) return Promise.reject(new Error("host is shutting down"));
    return new Promise((resolve, reject) => {
      const token = this.options.token;
      const ws = token ? new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } }) : new WebSocket(url);
      ws.binaryType = "arraybuffer";
      let open = false;
      ws.onopen = () => {
        if (this.closed) {
          closeQuietly(ws, 1001, "node shutting down");
          return reject(new Error("host is shutting down"));
        }
        open = true;
        this.links.add(ws);
        resolve({
          send: (bytes) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
          },
          close: (code, reason) => closeQuietly(ws, code, reason),
        });
      };
      ws.onmessage = (event) => {
        if (this.closed) return; // the node's database may be closed already
        const data = event.data;
        this.guarded("link message", () =>
          handlers.onMessage(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer)));
      };
      ws.onerror = () => {
        if (!open) reject(new Error(`cannot connect to ${url}`));
      };
      ws.onclose = (event) => {
        this.links.delete(ws);
        if (open && !this.closed) this.guarded("link close", () => handlers.onClose(event.code, event.reason));
        else reject(new Error(`cannot connect to ${url} (${event.code} ${event.reason})`));
      };
    });
  };

  /** Runs an event's work; an error is logged (on Deno it would end the process). */
  private guarded(what: string, fn: () => void): void {
    if (this.closed) return;
    try {
      this.runEvent(fn);
    } catch (e) {
      this.log("error", `${what} failed: ${(e as Error)?.stack ?? e}`);
    }
  }

  /** Shutdown: no more wake-ups, every outgoing link closed. */
  close(): void {
    this.closed = true;
    this.setWakeup(null);
    for (const ws of this.links) closeQuietly(ws, 1001, "node shutting down");
    this.links.clear();
  }
}

/** Closes a WebSocket, without throwing; a code it refuses (1005, 1006, ...) becomes 1000. */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
  const text = reason.length > 100 ? reason.slice(0, 100) : reason;
  try {
    ws.close(code, text);
  } catch {
    try {
      ws.close(1000, text);
    } catch {
      // already closed
    }
  }
}
