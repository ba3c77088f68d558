import { DurableObject } from "cloudflare:workers";

/** Bindings the benchmark ceiling needs (see bench/README.md). */
export interface CeilingEnv {
  CEILING: DurableObjectNamespace<CeilingDO>;
  /** "1" enables `/bench/ceiling`; anything else (or unset) makes it a 404. */
  TIDEKV_BENCH?: string;
}

const encoder = new TextEncoder();
const OK = encoder.encode("+OK\r\n");
/** The canned GET reply: a 100-byte bulk string. */
const GET_REPLY = encoder.encode(`$100\r\n${"v".repeat(100)}\r\n`);

const CR = 13;
const LF = 10;
const STAR = 42; // *
const DOLLAR = 36; // $

/**
 * The benchmark ceiling: a Durable Object that does nothing but speak just
 * enough RESP. It accepts WebSockets with the hibernation API, exactly like
 * NodeDO, and answers each incoming frame with one frame of canned replies:
 * `+OK` for every command except GET, which gets a fixed 100-byte bulk. No
 * storage, no engine: what the runtime costs by itself, which is the best
 * tidekv can hope for on the same path.
 *
 * Only routed when the worker var TIDEKV_BENCH is "1" (worker/app.ts).
 */
export class CeilingDO extends DurableObject<CeilingEnv> {
  /** Unfinished command bytes per socket (a command split across frames); lost on hibernation, fine for a benchmark. */
  private readonly partial = new Map<WebSocket, Uint8Array>();

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("tidekv bench ceiling: connect with a WebSocket\n", { status: 426 });
    }
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    // ?durable=1: the same, plus one committed SQLite write per frame that
    // carries a SET (the floor for a durable write on this platform).
    pair[1].serializeAttachment({ durable: new URL(request.url).searchParams.get("durable") === "1" });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    let bytes = typeof message === "string" ? encoder.encode(message) : new Uint8Array(message);
    const tail = this.partial.get(ws);
    if (tail) {
      const joined = new Uint8Array(tail.length + bytes.length);
      joined.set(tail);
      joined.set(bytes, tail.length);
      bytes = joined;
      this.partial.delete(ws);
    }
    const kinds: boolean[] = []; // true = GET
    const used = scanCommands(bytes, kinds);
    if (used < bytes.length) this.partial.set(ws, bytes.slice(used));
    if (kinds.length === 0) return;
    if ((ws.deserializeAttachment() as { durable?: boolean } | null)?.durable && kinds.some((isGet) => !isGet)) {
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS last_frame (id INTEGER PRIMARY KEY, data BLOB)");
      sql.exec("INSERT OR REPLACE INTO last_frame (id, data) VALUES (1, ?)", bytes);
    }
    let size = 0;
    for (const isGet of kinds) size += isGet ? GET_REPLY.length : OK.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const isGet of kinds) {
      const r = isGet ? GET_REPLY : OK;
      out.set(r, at);
      at += r.length;
    }
    ws.send(out);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.partial.delete(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  override webSocketError(ws: WebSocket): void {
    this.partial.delete(ws);
  }
}

/**
 * Walks complete commands in `b` (multibulk or inline), pushing for each one
 * whether it is a GET. Returns how many bytes were consumed (the rest is an
 * unfinished command). Reads only lengths and the first argument's name.
 */
export function scanCommands(b: Uint8Array, kinds: boolean[]): number {
  let p = 0;
  const n = b.length;
  while (p < n) {
    const start = p;
    if (b[p] !== STAR) {
      // Inline command: one line. Blank lines are skipped, as Redis does.
      let e = p;
      while (e < n && b[e] !== LF) e++;
      if (e >= n) return start;
      let s = p;
      while (s < e && (b[s] === 32 || b[s] === CR)) s++;
      if (s < e) kinds.push(isGet(b, s, e));
      p = e + 1;
      continue;
    }
    let args = 0;
    p++;
    while (p < n && b[p] !== CR) args = args * 10 + (b[p++] - 48);
    if (p + 1 >= n) return start;
    p += 2;
    let get = false;
    for (let i = 0; i < args; i++) {
      if (p >= n) return start;
      if (b[p] !== DOLLAR) return n; // not RESP we understand: drop the frame
      let len = 0;
      p++;
      while (p < n && b[p] !== CR) len = len * 10 + (b[p++] - 48);
      if (p + 1 >= n) return start;
      p += 2;
      if (p + len + 2 > n) return start;
      if (i === 0) get = len === 3 && isGet(b, p, p + 3);
      p += len + 2;
    }
    if (args > 0) kinds.push(get);
  }
  return p;
}

function isGet(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 3) return false;
  if (e - s > 3 && b[s + 3] !== 32 && b[s + 3] !== CR && b[s + 3] !== LF) return false;
  return (b[s] | 0x20) === 0x67 && (b[s + 1] | 0x20) === 0x65 && (b[s + 2] | 0x20) === 0x74;
}
