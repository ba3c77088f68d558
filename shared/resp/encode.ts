/**
 * RESP encoder: Reply values to the exact bytes Redis 7 writes, for RESP2 or
 * RESP3 (see reply.ts for how each type travels in each protocol).
 */
import { formatDouble } from "../util/numbers.ts";
import type { Reply } from "./reply.ts";

const CR = 13;
const LF = 10;
const encoder = new TextEncoder();

/** Releasing a buffer bigger than this after take() keeps one huge reply from pinning memory. */
const KEEP_CAPACITY = 64 * 1024;

/**
 * Accumulates encoded replies in one growing buffer, so a pipeline of many
 * small replies costs one allocation for the whole batch, not one per reply.
 */
export class ReplyWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialCapacity = 4096) {
    this.buf = new Uint8Array(initialCapacity);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos;
  }

  /**
   * Encodes one reply for a client speaking `protocol`. All or nothing: if the
   * reply is malformed (a non-integer integer reply) it throws and nothing of
   * it stays in the buffer, so a client never sees half a reply.
   */
  write(reply: Reply, protocol: 2 | 3): void {
    const start = this.pos;
    try {
      this.put(reply, protocol);
    } catch (e) {
      this.pos = start;
      throw e;
    }
  }

  private put(reply: Reply, protocol: 2 | 3): void {
    switch (reply.type) {
      case "simple":
        this.byte(43); // '+'
        this.line(reply.value, false);
        return;
      case "error":
        this.byte(45); // '-'
        this.line(reply.value, true);
        return;
      case "integer":
        this.header(58, reply.value); // ':'
        return;
      case "bulk":
        this.bulk(reply.value);
        return;
      case "null":
        this.raw(protocol === 3 ? "_\r\n" : "$-1\r\n");
        return;
      case "nullarray":
        this.raw(protocol === 3 ? "_\r\n" : "*-1\r\n");
        return;
      case "array":
        this.aggregate(42, reply.value, protocol); // '*'
        return;
      case "set":
        this.aggregate(protocol === 3 ? 126 : 42, reply.value, protocol); // '~'
        return;
      case "push":
        this.aggregate(protocol === 3 ? 62 : 42, reply.value, protocol); // '>'
        return;
      case "map": {
        const pairs = reply.value;
        if (protocol === 3) this.header(37, pairs.length); // '%'
        else this.header(42, pairs.length * 2);
        for (const [key, value] of pairs) {
          this.put(key, protocol);
          this.put(value, protocol);
        }
        return;
      }
      case "double": {
        const text = formatDouble(reply.value);
        if (protocol === 3) {
          this.byte(44); // ','
          this.raw(text);
          this.crlf();
        } else {
          this.header(36, text.length); // '$', and the text is ASCII
          this.raw(text);
          this.crlf();
        }
        return;
      }
      case "boolean":
        if (protocol === 3) this.raw(reply.value ? "#t\r\n" : "#f\r\n");
        else this.raw(reply.value ? ":1\r\n" : ":0\r\n");
        return;
      case "bignum":
        if (protocol === 3) {
          this.byte(40); // '('
          this.line(reply.value, false);
        } else {
          this.bulk(encoder.encode(reply.value));
        }
        return;
      case "verbatim":
        if (protocol === 3) {
          // The length counts the "txt:" prefix; the format is three chars.
          this.header(61, reply.value.length + 4); // '='
          this.raw(reply.format.slice(0, 3).padEnd(3, " "));
          this.byte(58); // ':'
          this.bytes(reply.value);
          this.crlf();
        } else {
          this.bulk(reply.value);
        }
        return;
    }
  }

  /** Appends bytes as they are (a pre-encoded reply, a proxied frame). */
  writeRaw(bytes: Uint8Array): void {
    this.bytes(bytes);
  }

  /** Returns everything written so far and starts over. */
  take(): Uint8Array {
    const out = this.buf.length > KEEP_CAPACITY ? this.buf.subarray(0, this.pos) : this.buf.slice(0, this.pos);
    if (this.buf.length > KEEP_CAPACITY) this.buf = new Uint8Array(4096);
    this.pos = 0;
    return out;
  }

  private aggregate(type: number, items: readonly Reply[], protocol: 2 | 3): void {
    this.header(type, items.length);
    for (const item of items) this.put(item, protocol);
  }

  private bulk(value: Uint8Array): void {
    this.header(36, value.length); // '$'
    this.bytes(value);
    this.crlf();
  }

  /** `<type><n>\r\n` without building a string for small numbers. */
  private header(type: number, n: number | bigint): void {
    if (typeof n === "number" && !Number.isSafeInteger(n)) {
      // 2**64 as a number must print as 18446744073709551616, not 1.8e19.
      if (!Number.isInteger(n)) throw new TypeError(`RESP integer expected, got ${n}`);
      n = BigInt(n);
    }
    this.ensure(24);
    const buf = this.buf;
    buf[this.pos++] = type;
    if (typeof n === "number" && n >= 0) {
      if (n < 10) {
        buf[this.pos++] = 48 + n;
      } else {
        const start = this.pos;
        for (let v = n; v > 0; v = Math.floor(v / 10)) buf[this.pos++] = 48 + (v % 10);
        buf.subarray(start, this.pos).reverse();
      }
    } else {
      this.raw(n.toString());
    }
    this.crlf();
  }

  /**
   * A simple or error string and its CRLF. A CR or LF inside would end the
   * line early and desynchronise the client, so, as Redis's
   * addReplyErrorFormat/addReplyStatusFormat do, they become spaces (and an
   * error's leading and trailing CR/LF are trimmed first, like its sdstrim).
   */
  private line(value: string, isError: boolean): void {
    if (/[\r\n]/.test(value)) {
      if (isError) value = value.replace(/^[\r\n]+|[\r\n]+$/g, "");
      value = value.replace(/[\r\n]/g, " ");
    }
    this.raw(value);
    this.crlf();
  }

  /** A string as UTF-8: a byte loop for ASCII (the common case), encodeInto otherwise. */
  private raw(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = pos;
        this.utf8(s.slice(i));
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  private utf8(s: string): void {
    this.ensure(s.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.pos));
    this.pos += written;
  }

  private bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private crlf(): void {
    this.ensure(2);
    this.buf[this.pos++] = CR;
    this.buf[this.pos++] = LF;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

/** One reply's bytes. */
export function encodeReply(reply: Reply, protocol: 2 | 3): Uint8Array {
  const writer = new ReplyWriter(256);
  writer.write(reply, protocol);
  return writer.take();
}

/**
 * A command as a RESP array of bulk strings, `*N\r\n$len\r\narg\r\n...`: what
 * clients send and what the replication stream carries (its offsets count
 * these bytes). Strings are sent as UTF-8.
 */
export function encodeCommand(argv: readonly (Uint8Array | string)[]): Uint8Array {
  const args = argv.map((a) => (typeof a === "string" ? encoder.encode(a) : a));
  let total = 3 + String(args.length).length;
  for (const a of args) total += 5 + String(a.length).length + a.length;
  const out = new Uint8Array(total);
  let pos = writeAscii(out, 0, `*${args.length}\r\n`);
  for (const a of args) {
    pos = writeAscii(out, pos, `$${a.length}\r\n`);
    out.set(a, pos);
    pos += a.length;
    out[pos++] = CR;
    out[pos++] = LF;
  }
  return out;
}

function writeAscii(out: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}
