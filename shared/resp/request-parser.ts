/**
 * Server-side request parser: bytes from a client in, argv arrays out, with
 * the semantics of Redis 7's networking.c (processInlineBuffer,
 * processMultibulkBuffer) and sds.c (sdssplitargs), including its quirks:
 *
 * - Lines are found as C's strchr finds them: a NUL byte before the line's
 *   terminator hides it, so the request waits (and fails once "too big").
 * - A multibulk line ends at '\r' and the byte after it is skipped unchecked;
 *   a bulk payload is followed by two bytes Redis skips without looking.
 * - `*0` and negative counts are not commands; nor are blank inline lines.
 *
 * Work is O(bytes): the line scan resumes where it stopped, the buffer is a
 * ByteQueue, and a large bulk (>= 32 KiB, Redis's PROTO_MBULK_BIG_ARG) is
 * copied straight from incoming chunks into its own array, which grows as the
 * bytes arrive (Redis preallocates it; a 128 MB isolate cannot let a peer
 * reserve 512 MiB with one header line).
 */
import { ByteQueue, PayloadBuffer } from "../util/bytes.ts";
import { parseInt64Approx } from "../util/numbers.ts";

/**
 * A malformed request (or reply, for ReplyParser). For requests, `message` is
 * the complete error reply text, e.g. "ERR Protocol error: invalid bulk length";
 * the server replies with it and closes the connection.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export interface RequestLimits {
  /** proto-max-bulk-len (Redis default 512 MiB). Read on every use, so a getter may track CONFIG SET. */
  readonly maxBulkLength: number;
  /** Largest accepted `*<n>` count. */
  readonly maxMultibulkLength: number;
  /** Longest line without its terminator: inline request, `*n` or `$n` line (PROTO_INLINE_MAX_SIZE, 64 KiB). */
  readonly maxInlineLength?: number;
  /**
   * True while the client must still authenticate: Redis then refuses counts
   * over 10 and bulks over 16384 bytes, so an anonymous peer cannot make it
   * buffer much. Read on every use (a getter can follow AUTH).
   */
  readonly authRequired?: boolean;
}

const CR = 13;
const LF = 10;
const NUL = 0;
const STAR = 42;
const DOLLAR = 36;
const BIG_ARG = 32 * 1024;
const DEFAULT_MAX_INLINE = 64 * 1024;

/** Where the parser is: before a request, in an inline line, or in a multibulk's parts. */
type State = "start" | "inline" | "count" | "bulk-length" | "bulk";

export class RequestParser {
  private readonly queue = new ByteQueue();
  private state: State = "start";
  /** Where the current line's terminator search resumes (offset from the queue head). */
  private scanned = 0;
  /** A NUL was found before the terminator: like strchr, never look further. */
  private blind = false;
  private argv: Uint8Array[] = [];
  private argvBytes = 0;
  private remaining = 0;
  private bulkLength = 0;
  /** A large bulk being filled directly by feed(). */
  private big: PayloadBuffer | null = null;
  private failure: ProtocolError | null = null;

  constructor(private readonly limits: RequestLimits) {}

  /**
   * Bytes held for the request not yet complete (and any queued after it):
   * what Redis checks against client-query-buffer-limit.
   */
  get buffered(): number {
    return this.queue.length + this.argvBytes + (this.big?.filled ?? 0);
  }

  feed(chunk: Uint8Array): void {
    if (this.failure !== null) return;
    if (this.big !== null && !this.big.complete) chunk = chunk.subarray(this.big.fill(chunk));
    this.queue.push(chunk);
  }

  /**
   * The next complete command (fresh arrays, never views of the input), null
   * when more bytes are needed, or the ProtocolError to reply with before
   * closing; after an error every call returns the same error.
   */
  next(): Uint8Array[] | ProtocolError | null {
    if (this.failure !== null) return this.failure;
    const queue = this.queue;
    for (;;) {
      switch (this.state) {
        case "start":
          if (queue.length === 0) return null;
          this.state = queue.at(0) === STAR ? "count" : "inline";
          this.resetScan();
          break;

        case "inline": {
          const end = this.findLine(LF);
          if (end < 0) return this.waitForLine("too big inline request");
          const length = end > 0 && queue.at(end - 1) === CR ? end - 1 : end;
          const argv = splitArgs(queue.view(0, length));
          if (argv === null) return this.fail("unbalanced quotes in request");
          queue.skip(end + 1);
          this.state = "start";
          if (argv.length > 0) return argv;
          break; // a blank line is no command
        }

        case "count": {
          const end = this.findLine(CR);
          if (end < 0) return this.waitForLine("too big mbulk count string");
          if (end + 2 > queue.length) return null; // the byte after '\r' is not here yet
          const count = parseInt64Approx(queue.view(1, end - 1));
          if (count === null || count > this.limits.maxMultibulkLength) {
            return this.fail("invalid multibulk length");
          }
          if (count > 10 && this.limits.authRequired) return this.fail("unauthenticated multibulk length");
          queue.skip(end + 2);
          if (count <= 0) {
            this.state = "start";
            break;
          }
          this.remaining = count;
          this.state = "bulk-length";
          this.resetScan();
          break;
        }

        case "bulk-length": {
          const end = this.findLine(CR);
          if (end < 0) return this.waitForLine("too big bulk count string");
          if (end + 2 > queue.length) return null;
          const first = queue.at(0);
          if (first !== DOLLAR) {
            // Redis formats the byte with %c; a CR/LF there would then be mapped to a space.
            const shown = first === CR || first === LF ? " " : String.fromCharCode(first);
            return this.fail(`expected '$', got '${shown}'`);
          }
          const length = parseInt64Approx(queue.view(1, end - 1));
          if (length === null || length < 0 || length > this.limits.maxBulkLength) {
            return this.fail("invalid bulk length");
          }
          if (length > 16384 && this.limits.authRequired) return this.fail("unauthenticated bulk length");
          queue.skip(end + 2);
          this.bulkLength = length;
          this.state = "bulk";
          if (length >= BIG_ARG && queue.length < length + 2) {
            this.big = new PayloadBuffer(length);
            this.big.fillFrom(queue);
          }
          break;
        }

        case "bulk": {
          let arg: Uint8Array;
          if (this.big !== null) {
            if (!this.big.complete || queue.length < 2) return null;
            arg = this.big.result();
            this.big = null;
          } else {
            if (queue.length < this.bulkLength + 2) return null;
            arg = queue.take(this.bulkLength);
          }
          queue.skip(2); // the CRLF, unchecked as in Redis
          this.argv.push(arg);
          this.argvBytes += arg.length;
          if (--this.remaining > 0) {
            this.state = "bulk-length";
            this.resetScan();
            break;
          }
          const argv = this.argv;
          this.argv = [];
          this.argvBytes = 0;
          this.state = "start";
          return argv;
        }
      }
    }
  }

  private resetScan(): void {
    this.scanned = 0;
    this.blind = false;
  }

  /** Offset of the line terminator from the queue head, or -1 while there is none (yet). */
  private findLine(terminator: number): number {
    if (this.blind) return -1;
    const at = this.queue.find(terminator, this.scanned, NUL);
    if (at >= 0) return at;
    if (at === -2) this.blind = true;
    else this.scanned = this.queue.length;
    return -1;
  }

  /** No complete line: wait, unless the unterminated input has passed the limit. */
  private waitForLine(tooBig: string): ProtocolError | null {
    const max = this.limits.maxInlineLength ?? DEFAULT_MAX_INLINE;
    return this.queue.length > max ? this.fail(tooBig) : null;
  }

  private fail(what: string): ProtocolError {
    this.failure = new ProtocolError(`ERR Protocol error: ${what}`);
    this.queue.clear();
    this.argv = [];
    this.argvBytes = 0;
    this.big = null;
    return this.failure;
  }
}

// sdssplitargs, byte for byte. isspace() in the C locale skips blanks between
// arguments; an unquoted argument ends only at space, \t, \n, \r (not \v, \f).
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const hexValue = (c: number): number => (c <= 57 ? c - 48 : (c | 0x20) - 87);
const ESCAPES: Record<number, number> = { 110: LF, 114: CR, 116: 9, 98: 8, 97: 7 }; // \n \r \t \b \a

/**
 * Splits an inline request line into arguments like sdssplitargs: "double
 * quotes" with \n \r \t \b \a \xHH and \<any> escapes, 'single quotes' with
 * only \' escaped, quotes may start mid-argument (a"b c" is `ab c`), and a
 * closing quote must be followed by a space or the end. Null means
 * unbalanced quotes. The line holds no NUL (see findLine).
 */
export function splitArgs(line: Uint8Array): Uint8Array[] | null {
  const args: Uint8Array[] = [];
  const scratch = new Uint8Array(line.length);
  const n = line.length;
  let p = 0;
  for (;;) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) return args;
    let len = 0;
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      const c = p < n ? line[p] : NUL;
      if (inDouble) {
        if (c === NUL) return null;
        if (c === 92 && p + 3 < n && line[p + 1] === 120 && isHex(line[p + 2]) && isHex(line[p + 3])) {
          scratch[len++] = hexValue(line[p + 2]) * 16 + hexValue(line[p + 3]); // \xHH
          p += 4;
        } else if (c === 92 && p + 1 < n) {
          const e = line[p + 1];
          scratch[len++] = ESCAPES[e] ?? e;
          p += 2;
        } else if (c === 34) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          p++;
          break;
        } else {
          scratch[len++] = c;
          p++;
        }
      } else if (inSingle) {
        if (c === NUL) return null;
        if (c === 92 && p + 1 < n && line[p + 1] === 39) {
          scratch[len++] = 39; // \'
          p += 2;
        } else if (c === 39) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          p++;
          break;
        } else {
          scratch[len++] = c;
          p++;
        }
      } else if (c === 32 || c === LF || c === CR || c === 9 || c === NUL) {
        if (p < n) p++;
        break;
      } else {
        if (c === 34) inDouble = true;
        else if (c === 39) inSingle = true;
        else scratch[len++] = c;
        p++;
      }
    }
    args.push(scratch.slice(0, len));
  }
}
