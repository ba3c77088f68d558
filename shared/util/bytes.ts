/**
 * Byte helpers shared by every layer. Only Uint8Array, TextEncoder and
 * TextDecoder: this file runs unchanged on workerd, Deno and Node (no Buffer).
 */

const encoder = new TextEncoder();
// Non-fatal: invalid UTF-8 becomes U+FFFD. Fine for logs and error texts; keys
// and values stay as bytes everywhere else.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8, replacing invalid sequences (lossy; never throws). */
export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

/**
 * One char per byte (ISO-8859-1). Lossless and reversible, unlike `text`, so
 * number parsers can run string regexes over raw bytes: any byte >= 0x80 is a
 * char no numeric grammar accepts.
 */
export function latin1(b: Uint8Array): string {
  // fromCharCode.apply has an argument-count limit; go in slices.
  let out = "";
  for (let i = 0; i < b.length; i += 8192) {
    out += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Concatenates chunks into one new array. `total` may be passed when already known. */
export function concat(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  let size = total;
  if (size === undefined) {
    size = 0;
    for (const c of chunks) size += c.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * memcmp order, as Redis compares keys and members (sdscmp): unsigned bytes,
 * and a proper prefix sorts first. Returns -1, 0 or 1.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * A FIFO of bytes for incremental parsers: chunks are appended at the tail and
 * consumed from the head, with amortised O(1) work per byte. It keeps one
 * contiguous buffer and, when the tail is full, either slides the live bytes to
 * the front (when they fill at most half the buffer) or doubles the buffer, so
 * each byte is copied a bounded number of times however the input is chunked.
 * Offsets taken by the accessors are relative to the current head.
 */
export class ByteQueue {
  private buf: Uint8Array;
  private head = 0;
  private tail = 0;

  constructor(initialCapacity = 4096) {
    this.buf = new Uint8Array(initialCapacity);
  }

  get length(): number {
    return this.tail - this.head;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.tail + n > this.buf.length) this.makeRoom(n);
    this.buf.set(chunk, this.tail);
    this.tail += n;
  }

  /** The byte at offset `i` from the head (undefined past the end). */
  at(i: number): number {
    return this.buf[this.head + i];
  }

  /**
   * Offset of the first `byte` at or after `from`, or -1. When `stopAt` is
   * given, a `stopAt` byte found first ends the search with -2: this is how
   * the parsers reproduce C's strchr(), which never looks past a NUL.
   */
  find(byte: number, from: number, stopAt = -1): number {
    const buf = this.buf;
    const end = this.tail;
    for (let i = this.head + from; i < end; i++) {
      const c = buf[i];
      if (c === byte) return i - this.head;
      if (c === stopAt) return -2;
    }
    return -1;
  }

  /** A transient view of `n` bytes at `offset`; valid only until the next push/skip. */
  view(offset: number, n: number): Uint8Array {
    const start = this.head + offset;
    return this.buf.subarray(start, start + n);
  }

  /** Removes and returns the first `n` bytes as a fresh copy (never aliases the queue). */
  take(n: number): Uint8Array {
    const out = this.buf.slice(this.head, this.head + n);
    this.skip(n);
    return out;
  }

  /** Moves up to `n` bytes from the head into `dst` at `at`; returns how many moved. */
  moveTo(dst: Uint8Array, at: number, n: number): number {
    const count = Math.min(n, this.length);
    dst.set(this.buf.subarray(this.head, this.head + count), at);
    this.skip(count);
    return count;
  }

  skip(n: number): void {
    this.head += n;
    if (this.head >= this.tail) {
      // Empty: rewind for free instead of sliding later, and give back a
      // buffer that one large burst blew up.
      this.head = 0;
      this.tail = 0;
      if (this.buf.length > 262144) this.buf = new Uint8Array(4096);
    }
  }

  /** Drops everything. */
  clear(): void {
    this.skip(this.length);
  }

  private makeRoom(n: number): void {
    const live = this.tail - this.head;
    const needed = live + n;
    if (needed <= this.buf.length >> 1) {
      // Sliding copies `live` bytes, and at least half the buffer was filled
      // since the last slide or growth: the copy is paid for by that input.
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      let size = Math.max(this.buf.length * 2, 4096);
      while (size < needed) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.head, this.tail));
      this.buf = next;
    }
    this.head = 0;
    this.tail = live;
  }
}

/**
 * A byte array of announced size filled as its bytes arrive (a bulk payload).
 * Storage grows by doubling up to the announced size rather than being
 * allocated up front, so a peer that announces 512 MiB and sends nothing costs
 * nothing; copies stay amortised O(size).
 */
export class PayloadBuffer {
  private buf: Uint8Array;
  private count = 0;

  constructor(readonly size: number) {
    this.buf = new Uint8Array(Math.min(size, 65536));
  }

  get filled(): number {
    return this.count;
  }

  get complete(): boolean {
    return this.count === this.size;
  }

  /** Takes what it still needs from the front of `chunk`; returns how many bytes it took. */
  fill(chunk: Uint8Array): number {
    const n = Math.min(this.size - this.count, chunk.length);
    this.reserve(n);
    this.buf.set(n === chunk.length ? chunk : chunk.subarray(0, n), this.count);
    this.count += n;
    return n;
  }

  /** Takes what it still needs from the head of `queue`. */
  fillFrom(queue: ByteQueue): void {
    const n = Math.min(this.size - this.count, queue.length);
    this.reserve(n);
    this.count += queue.moveTo(this.buf, this.count, n);
  }

  /** The payload; exactly `size` bytes once complete. */
  result(): Uint8Array {
    return this.buf.length === this.count ? this.buf : this.buf.slice(0, this.count);
  }

  private reserve(n: number): void {
    if (this.count + n <= this.buf.length) return;
    const next = new Uint8Array(Math.min(this.size, Math.max(this.buf.length * 2, this.count + n)));
    next.set(this.buf.subarray(0, this.count));
    this.buf = next;
  }
}
