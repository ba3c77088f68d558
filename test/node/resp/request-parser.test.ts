import { describe, expect, it } from "vitest";
import { encodeCommand, ProtocolError, RequestParser, splitArgs } from "../../../shared/resp/index.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const limits = { maxBulkLength: 512 * 1024 * 1024, maxMultibulkLength: 1024 * 1024 };

/** Feeds `input` (string bytes are latin1 so tests can write any byte) and drains next(). */
function parse(input: string | Uint8Array, parser = new RequestParser(limits)): (string[] | string | null)[] {
  parser.feed(typeof input === "string" ? latin1Bytes(input) : input);
  return drain(parser);
}

function drain(parser: RequestParser): (string[] | string | null)[] {
  const out: (string[] | string | null)[] = [];
  for (;;) {
    const r = parser.next();
    if (r === null) return [...out, null];
    if (r instanceof ProtocolError) return [...out, r.message];
    out.push(r.map((a) => String.fromCharCode(...a)));
  }
}

const latin1Bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("inline requests (checked against redis-server 7.0)", () => {
  const cases: [string, (string[] | string | null)[]][] = [
    ["PING\r\n", [["PING"], null]],
    ["PING\n", [["PING"], null]],
    ["SET k v\r\nGET k\r\n", [["SET", "k", "v"], ["GET", "k"], null]],
    ["PING", [null]],
    ['echo "a\\x41b"\r\n', [["echo", "aAb"], null]],
    ['echo "\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', [["echo", '\n\r\t\b\x07\\"q'], null]],
    ['echo "\\xZZ" "\\x4"\r\n', [["echo", "xZZ", "x4"], null]],
    ["echo 'a\\'b' 'c\\nd'\r\n", [["echo", "a'b", "c\\nd"], null]],
    ['echo a"b c"\r\n', [["echo", "ab c"], null]],
    ['echo "" \'\'\r\n', [["echo", "", ""], null]],
    ['echo "a"\x0b\r\n', [["echo", "a"], null]],
    ["echo a\rb\r\n", [["echo", "a", "b"], null]],
    ["echo a\x0bb\r\n", [["echo", "a\x0bb"], null]],
    ["\x0becho\x0c a\r\n", [["echo\x0c", "a"], null]],
    ["   \r\n\r\n\nPING\n", [["PING"], null]],
    ["  GET   k  \r\n", [["GET", "k"], null]],
    ["\xff\xfe x\r\n", [["\xff\xfe", "x"], null]],
    ['echo "a"b\r\n', ["ERR Protocol error: unbalanced quotes in request"]],
    ["echo 'a'b\r\n", ["ERR Protocol error: unbalanced quotes in request"]],
    ['echo "a\r\n', ["ERR Protocol error: unbalanced quotes in request"]],
    ["echo 'a\r\n", ["ERR Protocol error: unbalanced quotes in request"]],
    ['echo "a\\"\r\n', ["ERR Protocol error: unbalanced quotes in request"]],
    ['PING\r\necho "a\r\nPING\r\n', [["PING"], "ERR Protocol error: unbalanced quotes in request"]],
    // strchr() stops at a NUL: the newline behind it is never seen.
    ["PING\x00 x\r\nPING\r\n", [null]],
  ];
  it.each(cases)("%j", (input, want) => {
    expect(parse(input)).toEqual(want);
  });

  it("fails a line longer than 64 KiB without a newline, and not before", () => {
    const p = new RequestParser(limits);
    expect(parse("a".repeat(65536), p)).toEqual([null]);
    expect(parse("a", p)).toEqual(["ERR Protocol error: too big inline request"]);
    // A NUL hides later newlines, so such a request only ends this way.
    const q = new RequestParser(limits);
    expect(parse("GET\x00\r\n" + "x".repeat(65530), q)).toEqual([null]);
    expect(parse("\r\n", q)).toEqual(["ERR Protocol error: too big inline request"]);
  });

  it("honours maxInlineLength", () => {
    const p = new RequestParser({ ...limits, maxInlineLength: 10 });
    expect(parse("0123456789", p)).toEqual([null]);
    expect(parse("0", p)).toEqual(["ERR Protocol error: too big inline request"]);
  });
});

describe("multibulk requests (checked against redis-server 7.0)", () => {
  const cases: [string, (string[] | string | null)[]][] = [
    ["*1\r\n$4\r\nPING\r\n", [["PING"], null]],
    ["*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nGET k\r\n", [["SET", "k", ""], ["GET", "k"], null]],
    ["*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [["ECHO", "a\r\nb"], null]],
    ["*1\r\n$4\r\nPI", [null]],
    ["*1\r\n$4", [null]],
    ["*1\r", [null]],
    // The byte after '\r' and the two bytes after a payload are skipped unchecked.
    ["*1\rX$4\r\nPING\r\n", [["PING"], null]],
    ["*1\r\n$4\r\nPINGxyPING\r\n", [["PING"], ["PING"], null]],
    // Zero and negative counts are no command.
    ["*0\r\n*1\r\n$4\r\nPING\r\n", [["PING"], null]],
    ["*-5\r\nPING\r\n", [["PING"], null]],
    // A NUL before the '\r' hides it (strchr), so the request waits.
    ["*1\x00\r\n$4\r\nPING\r\n", [null]],
    ["*1\r\n$4\x00\r\nPING\r\n", [null]],
    ["*x\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*-0\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*01\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*+1\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*1048577\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*99999999999999999999\r\n", ["ERR Protocol error: invalid multibulk length"]],
    ["*1\r\n+4\r\nPING\r\n", ["ERR Protocol error: expected '$', got '+'"]],
    ["*1\r\n\r\n", ["ERR Protocol error: expected '$', got ' '"]],
    ["*1\r\n\n\r\n", ["ERR Protocol error: expected '$', got ' '"]],
    ["*1\r\n$-1\r\n", ["ERR Protocol error: invalid bulk length"]],
    ["*1\r\n$\r\n", ["ERR Protocol error: invalid bulk length"]],
    ["*1\r\n$04\r\nPING\r\n", ["ERR Protocol error: invalid bulk length"]],
    ["*1\r\n$ 4\r\nPING\r\n", ["ERR Protocol error: invalid bulk length"]],
    ["*1\r\n$536870913\r\n", ["ERR Protocol error: invalid bulk length"]],
    ["PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+4\r\n", [["PING"], ["PING"], "ERR Protocol error: expected '$', got '+'"]],
  ];
  it.each(cases)("%j", (input, want) => {
    expect(parse(input)).toEqual(want);
  });

  it("keeps returning the error and ignores later input", () => {
    const p = new RequestParser(limits);
    expect(parse("*x\r\n", p)).toEqual(["ERR Protocol error: invalid multibulk length"]);
    p.feed(enc.encode("PING\r\n"));
    const again = p.next();
    expect(again).toBeInstanceOf(ProtocolError);
    expect((again as ProtocolError).message).toBe("ERR Protocol error: invalid multibulk length");
    expect(p.buffered).toBe(0);
  });

  it("fails count and length lines over 64 KiB", () => {
    const p = new RequestParser(limits);
    expect(parse("*" + "1".repeat(65535), p)).toEqual([null]);
    expect(parse("1", p)).toEqual(["ERR Protocol error: too big mbulk count string"]);
    expect(parse("*1\r\n$" + "1".repeat(65536))).toEqual(["ERR Protocol error: too big bulk count string"]);
    // A complete but absurd line is an invalid length instead.
    expect(parse("*1\r\n$" + "1".repeat(100) + "\r\n")).toEqual(["ERR Protocol error: invalid bulk length"]);
  });

  it("reads limits on every use, so a getter can follow CONFIG SET", () => {
    let max = 3;
    const p = new RequestParser({ get maxBulkLength() { return max; }, maxMultibulkLength: 10 });
    expect(parse("*1\r\n$3\r\nabc\r\n", p)).toEqual([["abc"], null]);
    max = 2;
    expect(parse("*1\r\n$3\r\nabc\r\n", p)).toEqual(["ERR Protocol error: invalid bulk length"]);
  });

  it("returns fresh arrays that never alias the input", () => {
    const p = new RequestParser(limits);
    const input = enc.encode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET x y\r\n");
    p.feed(input);
    const a = p.next() as Uint8Array[];
    const b = p.next() as Uint8Array[];
    input.fill(0);
    p.feed(enc.encode("*1\r\n$4\r\nPING\r\n"));
    p.next();
    expect(a.map((x) => dec.decode(x))).toEqual(["GET", "k"]);
    expect(b.map((x) => dec.decode(x))).toEqual(["SET", "x", "y"]);
    expect(a[0].buffer).not.toBe(a[1].buffer);
  });

  it("does not reserve a large announced bulk before its bytes arrive", () => {
    const p = new RequestParser(limits);
    p.feed(enc.encode("*1\r\n$536870912\r\n0123456789"));
    expect(p.next()).toBeNull();
    expect(p.buffered).toBe(10);
  });

  it("reports the bytes it holds", () => {
    const p = new RequestParser(limits);
    p.feed(enc.encode("*2\r\n$3\r\nGET\r\n$10\r\nabc"));
    expect(p.next()).toBeNull();
    expect(p.buffered).toBe(3 + 3); // the finished "GET" and "abc" of the second argument
    p.feed(enc.encode("defghij\r\n"));
    expect(p.next()).not.toBeNull();
    expect(p.buffered).toBe(0);
  });

  it("takes a 16 MiB value in 1 KiB pieces in linear time", () => {
    const size = 16 * 1024 * 1024;
    const value = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) value[i] = i & 255;
    const bytes = encodeCommand(["SET", "k", value]);
    const p = new RequestParser(limits);
    const start = performance.now();
    let result: ReturnType<RequestParser["next"]> = null;
    for (let i = 0; i < bytes.length; i += 1024) {
      p.feed(bytes.subarray(i, i + 1024));
      result = p.next() ?? result;
      if (i === 1024 * 8) expect(p.buffered).toBeGreaterThan(8 * 1024);
    }
    expect(performance.now() - start).toBeLessThan(3000); // quadratic would take minutes
    const argv = result as Uint8Array[];
    expect(argv.length).toBe(3);
    expect(argv[2].length).toBe(size);
    expect(argv[2][4096 * 7]).toBe((4096 * 7) & 255);
    expect(p.buffered).toBe(0);
  });

  it("parses many pipelined commands fed one byte at a time", () => {
    const one = encodeCommand(["SET", "key", "x".repeat(40000)]); // crosses the big-argument path
    const stream = new Uint8Array([...one, ...enc.encode("PING\r\n"), ...one]);
    const p = new RequestParser(limits);
    const got: string[] = [];
    for (const byte of stream) {
      p.feed(new Uint8Array([byte]));
      for (let r = p.next(); r !== null; r = p.next()) {
        if (r instanceof ProtocolError) throw r;
        got.push(`${dec.decode(r[0])}:${r.length}:${r[r.length - 1].length}`);
      }
    }
    expect(got).toEqual(["SET:3:40000", "PING:1:4", "SET:3:40000"]);
  });
});

describe("splitArgs", () => {
  it("splits like sdssplitargs", () => {
    const split = (s: string) => splitArgs(latin1Bytes(s))?.map((a) => String.fromCharCode(...a)) ?? null;
    expect(split("")).toEqual([]);
    expect(split("  \t ")).toEqual([]);
    expect(split('set "k y" \'v w\'')).toEqual(["set", "k y", "v w"]);
    expect(split('"\\x00\\xff"')).toEqual(["\x00\xff"]);
    expect(split('"a"b')).toBeNull();
    expect(split('"a')).toBeNull();
  });
});

describe("unauthenticated clients", () => {
  it("refuses large counts and bulks, as Redis does before AUTH", () => {
    const anonymous = { ...limits, authRequired: true };
    expect(parse("*10\r\n", new RequestParser(anonymous))).toEqual([null]);
    expect(parse("*11\r\n", new RequestParser(anonymous))).toEqual(["ERR Protocol error: unauthenticated multibulk length"]);
    expect(parse("*1\r\n$16384\r\n", new RequestParser(anonymous))).toEqual([null]);
    expect(parse("*1\r\n$16385\r\n", new RequestParser(anonymous))).toEqual(["ERR Protocol error: unauthenticated bulk length"]);
    expect(parse("*11\r\n", new RequestParser(limits))).toEqual([null]);
  });
});
