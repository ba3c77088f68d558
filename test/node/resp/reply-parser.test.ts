import { describe, expect, it } from "vitest";
import { encodeCommand, ProtocolError, ReplyParser, type Reply } from "../../../shared/resp/index.ts";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

function decodeAll(input: string | Uint8Array): Reply[] {
  const p = new ReplyParser();
  p.feed(typeof input === "string" ? b(input) : input);
  const out: Reply[] = [];
  for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  return out;
}

function decodeOrError(input: string): unknown {
  try {
    return decodeAll(input)[0];
  } catch (e) {
    return e;
  }
}

describe("ReplyParser", () => {
  const cases: [string, Reply][] = [
    ["+OK\r\n", { type: "simple", value: "OK" }],
    ["+\r\n", { type: "simple", value: "" }],
    ["-ERR unknown command\r\n", { type: "error", value: "ERR unknown command" }],
    [":12345\r\n", { type: "integer", value: 12345 }],
    [":-9007199254740991\r\n", { type: "integer", value: -9007199254740991 }],
    [":9007199254740992\r\n", { type: "integer", value: 9007199254740992n }],
    [":-9223372036854775808\r\n", { type: "integer", value: -9223372036854775808n }],
    ["$5\r\nhello\r\n", { type: "bulk", value: b("hello") }],
    ["$4\r\na\r\nb\r\n", { type: "bulk", value: b("a\r\nb") }],
    ["$0\r\n\r\n", { type: "bulk", value: b("") }],
    ["$-1\r\n", { type: "null" }],
    ["*-1\r\n", { type: "nullarray" }],
    ["_\r\n", { type: "null" }],
    ["*0\r\n", { type: "array", value: [] }],
    ["*2\r\n:1\r\n$1\r\nx\r\n", { type: "array", value: [{ type: "integer", value: 1 }, { type: "bulk", value: b("x") }] }],
    [",3.141\r\n", { type: "double", value: 3.141 }],
    [",1.1000000000000001\r\n", { type: "double", value: 1.1 }],
    [",1e+20\r\n", { type: "double", value: 1e20 }],
    [",-1.5E-7\r\n", { type: "double", value: -1.5e-7 }],
    [",inf\r\n", { type: "double", value: Infinity }],
    [",-inf\r\n", { type: "double", value: -Infinity }],
    [",nan\r\n", { type: "double", value: NaN }],
    [",-nan\r\n", { type: "double", value: NaN }],
    [",-0\r\n", { type: "double", value: -0 }],
    ["#t\r\n", { type: "boolean", value: true }],
    ["#f\r\n", { type: "boolean", value: false }],
    ["(1234567999999999999999999999999999999\r\n", { type: "bignum", value: "1234567999999999999999999999999999999" }],
    ["=29\r\ntxt:This is a verbatim\nstring\r\n", { type: "verbatim", format: "txt", value: b("This is a verbatim\nstring") }],
    ["=4\r\nmkd:\r\n", { type: "verbatim", format: "mkd", value: b("") }],
    [
      "%2\r\n:0\r\n#f\r\n$1\r\nk\r\n_\r\n",
      { type: "map", value: [[{ type: "integer", value: 0 }, { type: "boolean", value: false }], [{ type: "bulk", value: b("k") }, { type: "null" }]] },
    ],
    ["~2\r\n:0\r\n:1\r\n", { type: "set", value: [{ type: "integer", value: 0 }, { type: "integer", value: 1 }] }],
    [">2\r\n$7\r\nmessage\r\n:42\r\n", { type: "push", value: [{ type: "bulk", value: b("message") }, { type: "integer", value: 42 }] }],
    // DEBUG PROTOCOL attrib on redis-server 7.0: the attribute is dropped.
    [
      "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
      { type: "bulk", value: b("Some real reply following the attribute") },
    ],
    ["*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n|0\r\n:2\r\n", { type: "array", value: [{ type: "integer", value: 1 }, { type: "integer", value: 2 }] }],
    ["*1\r\n*1\r\n*1\r\n*0\r\n", { type: "array", value: [{ type: "array", value: [{ type: "array", value: [{ type: "array", value: [] }] }] }] }],
  ];
  it.each(cases)("%j", (input, want) => {
    expect(decodeAll(input)).toEqual([want]);
  });

  it("does not allocate an announced bulk up front", () => {
    const p = new ReplyParser();
    p.feed(b("$4000000000\r\nabc"));
    expect(p.next()).toBeUndefined();
  });

  it("waits for more bytes at every cut and resumes", () => {
    const stream = "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n,1.5\r\n:7\r\n+next\r\n";
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new ReplyParser();
      p.feed(b(stream.slice(0, cut)));
      const got: Reply[] = [];
      for (let r = p.next(); r !== undefined; r = p.next()) got.push(r);
      p.feed(b(stream.slice(cut)));
      for (let r = p.next(); r !== undefined; r = p.next()) got.push(r);
      expect(got).toEqual(decodeAll(stream));
      expect(got.length).toBe(2);
    }
  });

  const malformed = [
    "?\r\n", ":abc\r\n", ":1.5\r\n", "$x\r\n", "$-2\r\n", "*-2\r\n", "%-1\r\n", "~-1\r\n", "#x\r\n", "_x\r\n",
    ",abc\r\n", ",0x10\r\n", "(1.5\r\n", "=2\r\nab\r\n", "=5\r\ntxt-x\r\n", "+OK\rX", "$1\r\nab\r\n",
  ];
  it.each(malformed)("throws ProtocolError on %j", (input) => {
    expect(() => decodeAll(input)).toThrow(ProtocolError);
  });

  describe("takeEncoded (a proxy forwarding replies unchanged)", () => {
    const plain = [
      "+OK\r\n", ":-12\r\n", "$5\r\nhello\r\n", "$4\r\na\r\nb\r\n", "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "_\r\n",
      "*0\r\n", "*2\r\n:1\r\n$1\r\nx\r\n", ",1.5\r\n", "#t\r\n", "(123\r\n", "=7\r\ntxt:abc\r\n",
      "%2\r\n:0\r\n#f\r\n$1\r\nk\r\n_\r\n", "~2\r\n:0\r\n:1\r\n", "*1\r\n*1\r\n*1\r\n*0\r\n",
      // EXEC's results may hold errors: only a reply that IS an error is left to next().
      "*2\r\n+OK\r\n-ERR wrong\r\n",
    ];
    it.each(plain)("gives %j back byte for byte, and what follows stays", (input) => {
      const p = new ReplyParser();
      p.feed(b(input + "+next\r\n"));
      expect(new TextDecoder().decode(p.takeEncoded()!)).toBe(input);
      expect(p.next()).toEqual({ type: "simple", value: "next" });
      expect(p.takeEncoded()).toBeNull();
    });

    const leftToNext = [
      "-MOVED 3999 n:443\r\n",
      ">2\r\n$7\r\nmessage\r\n:42\r\n",
      "|1\r\n+a\r\n+b\r\n:1\r\n",
      "*2\r\n>1\r\n:1\r\n:2\r\n",
      "?\r\n",
      "$x\r\n",
      "$1\r\nab\r\n",
      "*1\r\n:1\r\r",
    ];
    it.each(leftToNext)("leaves %j to next()", (input) => {
      const p = new ReplyParser();
      p.feed(b(input));
      expect(p.takeEncoded()).toBeNull();
      let parsed: unknown;
      try {
        parsed = p.next();
      } catch (e) {
        parsed = e;
      }
      expect(parsed).toEqual(decodeOrError(input));
    });

    it("at every cut: null until the reply is whole, and the stream reads the same either way", () => {
      const stream = "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n,1.5\r\n:7\r\n-ERR x\r\n$3\r\nend\r\n";
      const whole = decodeAll(stream);
      for (let cut = 0; cut <= stream.length; cut++) {
        const p = new ReplyParser();
        const got: Reply[] = [];
        const drain = () => {
          for (;;) {
            const bytes = p.takeEncoded();
            if (bytes !== null) {
              got.push(decodeAll(bytes)[0]);
              continue;
            }
            const r = p.next();
            if (r === undefined) return;
            got.push(r);
          }
        };
        p.feed(b(stream.slice(0, cut)));
        drain();
        p.feed(b(stream.slice(cut)));
        drain();
        expect(got).toEqual(whole);
      }
    });
  });

  it("decodes a 10 MiB bulk in 1 KiB pieces and a 100k-element array in linear time", () => {
    const value = new Uint8Array(10 * 1024 * 1024).fill(97);
    const items = Array.from({ length: 100_000 }, (_, i) => String(i));
    // A command is also a valid reply: an array of bulk strings.
    for (const bytes of [encodeCommand([value]), encodeCommand(items)]) {
      const p = new ReplyParser();
      const start = performance.now();
      let reply: Reply | undefined;
      for (let i = 0; i < bytes.length; i += 1024) {
        p.feed(bytes.subarray(i, i + 1024));
        reply = p.next() ?? reply;
      }
      expect(performance.now() - start).toBeLessThan(3000);
      expect(reply?.type).toBe("array");
    }
  });
});
