/**
 * Client-side incremental decoder for everything a Redis 7 server sends, RESP2
 * and RESP3: + - : $ * _ , # ( = % ~ > and | (attributes are parsed and
 * dropped; the value they annotate is returned). Used by clients and by a
 * replica reading its master's replies.
 *
 * Work is O(bytes) however the input is chunked: partially received
 * aggregates live on an explicit stack (never re-parsed), the CRLF search
 * resumes where it stopped, and a bulk's bytes go straight from the incoming
 * chunks into the array that becomes its value.
 */
import { ByteQueue, latin1, PayloadBuffer } from "../util/bytes.ts";
import type { Reply } from "./reply.ts";
import { ProtocolError } from "./request-parser.ts";

const CR = 13;
const LF = 10;
const decoder = new TextDecoder();
/** Nesting takeEncoded follows before leaving a reply to next() (whose stack is explicit). */
const MAX_SCAN_DEPTH = 32;

/** An aggregate whose elements are still arriving. */
interface Frame {
  readonly type: "array" | "set" | "push" | "map" | "attribute";
  /** Elements still expected (a map of N pairs expects 2N). */
  remaining: number;
  readonly items: Reply[];
}

/** A bulk or verbatim payload whose bytes are still arriving. */
interface Pending {
  readonly verbatim: boolean;
  readonly data: PayloadBuffer;
}

export class ReplyParser {
  private readonly queue = new ByteQueue();
  private readonly stack: Frame[] = [];
  private pending: Pending | null = null;
  private scanned = 0;

  feed(chunk: Uint8Array): void {
    const p = this.pending;
    if (p !== null && !p.data.complete) chunk = chunk.subarray(p.data.fill(chunk));
    this.queue.push(chunk);
  }

  /** The next complete reply, or undefined when more bytes are needed. Throws ProtocolError. */
  next(): Reply | undefined {
    for (;;) {
      const value = this.pending !== null ? this.finishPayload() : this.readToken();
      if (value === undefined) return undefined;
      const done = this.complete(value);
      if (done !== undefined) return done;
    }
  }

  /**
   * The next reply exactly as it was encoded, when the whole of it is
   * buffered and nothing is half-parsed: what a proxy forwards unchanged
   * instead of decoding and encoding it again. Null when next() must read it
   * instead: it is not all here yet, or its first byte is an error (callers
   * look into those), a push or an attribute (out of band), or anything
   * malformed (next() reports it).
   */
  takeEncoded(): Uint8Array | null {
    if (this.pending !== null || this.stack.length > 0 || this.queue.length === 0) return null;
    const first = this.queue.at(0);
    if (first === 45 || first === 62 || first === 124) return null; // - > |
    const end = this.extent(0, 0);
    if (end < 0) return null;
    this.scanned = 0;
    return this.queue.take(end);
  }

  /** Where the reply starting at `at` ends, or -1 (incomplete, or not plain data: see takeEncoded). */
  private extent(at: number, depth: number): number {
    const queue = this.queue;
    if (depth > MAX_SCAN_DEPTH) return -1;
    const type = queue.at(at);
    const cr = queue.find(CR, at + 1);
    if (cr < 0 || cr + 1 >= queue.length || queue.at(cr + 1) !== LF) return -1;
    const next = cr + 2;
    switch (type) {
      case 43: // +
      case 45: // - (inside an aggregate: EXEC's per-command errors)
      case 58: // :
      case 95: // _
      case 44: // ,
      case 35: // #
      case 40: // (
        return next;
      case 36: // $
      case 61: {
        // =
        const n = this.lengthAt(at + 1, cr, type === 36);
        if (n === -2) return -1;
        if (n === -1) return next;
        const end = next + n + 2;
        if (end > queue.length || queue.at(end - 2) !== CR || queue.at(end - 1) !== LF) return -1;
        return end;
      }
      case 42: // *
      case 126: // ~
      case 37: {
        // %
        const n = this.lengthAt(at + 1, cr, type === 42);
        if (n === -2) return -1;
        if (n === -1) return next;
        let pos = next;
        for (let i = type === 37 ? n * 2 : n; i > 0; i--) {
          if (pos >= queue.length) return -1;
          pos = this.extent(pos, depth + 1);
          if (pos < 0) return -1;
        }
        return pos;
      }
      default:
        return -1; // pushes, attributes, anything unknown: next() decides
    }
  }

  /** The decimal length between `from` and `to`; -1 for "-1" when `nullable`; -2 for anything else. */
  private lengthAt(from: number, to: number, nullable: boolean): number {
    const queue = this.queue;
    if (to - from === 2 && nullable && queue.at(from) === 45 && queue.at(from + 1) === 49) return -1;
    if (to === from || to - from > 15) return -2;
    let n = 0;
    for (let i = from; i < to; i++) {
      const d = queue.at(i) - 48;
      if (d < 0 || d > 9) return -2;
      n = n * 10 + d;
    }
    return n;
  }

  /**
   * Delivers a finished value (or an aggregate header, as a Frame) to the
   * stack; returns the top-level reply once one is whole.
   */
  private complete(value: Reply | Frame | null): Reply | undefined {
    let v: Reply | Frame | null = value;
    for (;;) {
      if (v === null) return undefined; // an attribute was dropped, or a frame opened
      if (isFrame(v)) {
        if (v.remaining > 0) {
          this.stack.push(v);
          return undefined;
        }
        v = frameReply(v);
        continue;
      }
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return v;
      top.items.push(v);
      if (--top.remaining > 0) return undefined;
      this.stack.pop();
      v = frameReply(top);
    }
  }

  /** One header or scalar; a Frame for an aggregate header; undefined if incomplete. */
  private readToken(): Reply | Frame | undefined {
    const queue = this.queue;
    if (queue.length === 0) return undefined;
    const cr = queue.find(CR, this.scanned);
    if (cr < 0 || cr + 1 >= queue.length) {
      this.scanned = cr < 0 ? queue.length : cr; // resume here, not from the start
      return undefined;
    }
    if (queue.at(cr + 1) !== LF) throw new ProtocolError("Protocol error: expected CRLF");
    this.scanned = 0;
    const type = queue.at(0);
    const raw = queue.view(1, cr - 1);
    // Only simple strings and errors carry text; the other lines are ASCII
    // numbers and words, where a byte-to-char copy is cheaper than decoding.
    const line = type === 43 || type === 45 ? decoder.decode(raw) : latin1(raw);
    queue.skip(cr + 2);
    switch (type) {
      case 43: // +
        return { type: "simple", value: line };
      case 45: // -
        return { type: "error", value: line };
      case 58: // :
        return { type: "integer", value: parseInteger(line) };
      case 95: // _
        if (line !== "") throw bad("null", line);
        return { type: "null" };
      case 44: // ,
        return { type: "double", value: parseDoubleReply(line) };
      case 35: // #
        if (line !== "t" && line !== "f") throw bad("boolean", line);
        return { type: "boolean", value: line === "t" };
      case 40: // (
        if (!/^-?\d+$/.test(line)) throw bad("big number", line);
        return { type: "bignum", value: line };
      case 36: // $
      case 61: {
        // =
        const n = parseLength(line);
        if (n < 0) {
          if (type === 61) throw bad("verbatim length", line);
          return { type: "null" };
        }
        if (type === 61 && n < 4) throw bad("verbatim length", line);
        const data = new PayloadBuffer(n);
        data.fillFrom(queue);
        this.pending = { verbatim: type === 61, data }; // feed() fills the rest directly
        return this.finishPayload();
      }
      case 42: // *
        return this.aggregate("array", line, true);
      case 126: // ~
        return this.aggregate("set", line, false);
      case 62: // >
        return this.aggregate("push", line, false);
      case 37: // %
        return this.aggregate("map", line, false);
      case 124: // |
        return this.aggregate("attribute", line, false);
      default:
        throw new ProtocolError(`Protocol error: unexpected reply type '${String.fromCharCode(type)}'`);
    }
  }

  private aggregate(type: Frame["type"], line: string, nullable: boolean): Reply | Frame {
    const n = parseLength(line);
    if (n < 0) {
      if (!nullable) throw bad(`${type} length`, line);
      return { type: "nullarray" };
    }
    return { type, remaining: type === "map" || type === "attribute" ? n * 2 : n, items: [] };
  }

  /** The payload of a $ or = once all of it and its CRLF are here. */
  private finishPayload(): Reply | undefined {
    const p = this.pending!;
    if (!p.data.complete || this.queue.length < 2) return undefined;
    if (this.queue.at(0) !== CR || this.queue.at(1) !== LF) {
      throw new ProtocolError("Protocol error: expected CRLF after bulk payload");
    }
    this.queue.skip(2);
    this.pending = null;
    const data = p.data.result();
    if (!p.verbatim) return { type: "bulk", value: data };
    if (data[3] !== 58) throw new ProtocolError("Protocol error: verbatim string without format");
    return { type: "verbatim", format: decoder.decode(data.subarray(0, 3)), value: data.slice(4) };
  }
}

const isFrame = (v: Reply | Frame): v is Frame => "remaining" in v;

/** A whole frame as a reply; null for an attribute, which is dropped. */
function frameReply(f: Frame): Reply | null {
  switch (f.type) {
    case "attribute":
      return null;
    case "map": {
      const pairs: [Reply, Reply][] = [];
      for (let i = 0; i < f.items.length; i += 2) pairs.push([f.items[i], f.items[i + 1]]);
      return { type: "map", value: pairs };
    }
    default:
      return { type: f.type, value: f.items };
  }
}

const bad = (what: string, line: string): ProtocolError =>
  new ProtocolError(`Protocol error: invalid ${what} '${line.slice(0, 64)}'`);

function parseLength(line: string): number {
  if (!/^(?:-1|\d{1,15})$/.test(line)) throw bad("length", line);
  return Number(line);
}

function parseInteger(line: string): number | bigint {
  if (!/^[+-]?\d{1,20}$/.test(line)) throw bad("integer", line);
  const n = Number(line);
  return Number.isSafeInteger(n) ? n : BigInt(line);
}

/** RESP3 double: decimal with optional exponent, "inf", "-inf", "nan" (glibc may print "-nan"). */
function parseDoubleReply(line: string): number {
  const lower = line.toLowerCase();
  if (lower === "inf" || lower === "+inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan" || lower === "-nan") return NaN;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(line)) throw bad("double", line);
  return Number(line);
}
