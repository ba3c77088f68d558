import { describe, expect, it } from "vitest";
import {
  array, bignum, boolean, bulk, double, EMPTY_ARRAY, encodeCommand, encodeReply, error, integer, map, NULL,
  NULL_ARRAY, OK, push, ReplyWriter, set, simple, verbatim, type Reply,
} from "../../../shared/resp/index.ts";

const wire = (reply: Reply, protocol: 2 | 3) => new TextDecoder().decode(encodeReply(reply, protocol));
const ints = [integer(0), integer(1), integer(2)];

describe("wire forms (checked against redis-server 7.0 DEBUG PROTOCOL)", () => {
  const cases: [string, Reply, string, string][] = [
    ["simple", OK, "+OK\r\n", "+OK\r\n"],
    ["error", error("ERR syntax error"), "-ERR syntax error\r\n", "-ERR syntax error\r\n"],
    ["integer", integer(12345), ":12345\r\n", ":12345\r\n"],
    ["negative integer", integer(-7), ":-7\r\n", ":-7\r\n"],
    ["bigint", integer(-(2n ** 63n)), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"],
    ["integer-valued number past 2^53", integer(2 ** 64), ":18446744073709551616\r\n", ":18446744073709551616\r\n"],
    ["bulk", bulk("Hello World"), "$11\r\nHello World\r\n", "$11\r\nHello World\r\n"],
    ["empty bulk", bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
    ["null", NULL, "$-1\r\n", "_\r\n"],
    ["null array", NULL_ARRAY, "*-1\r\n", "_\r\n"],
    ["array", array(ints), "*3\r\n:0\r\n:1\r\n:2\r\n", "*3\r\n:0\r\n:1\r\n:2\r\n"],
    ["empty array", EMPTY_ARRAY, "*0\r\n", "*0\r\n"],
    ["set", set(ints), "*3\r\n:0\r\n:1\r\n:2\r\n", "~3\r\n:0\r\n:1\r\n:2\r\n"],
    [
      "map",
      map([[integer(0), boolean(false)], [integer(1), boolean(true)], [integer(2), boolean(false)]]),
      "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
      "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
    ],
    ["push", push([bulk("server-cpu-usage"), integer(42)]), "*2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n", ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"],
    ["double", double(3.141), "$5\r\n3.141\r\n", ",3.141\r\n"],
    ["double %.17g", double(1.1), "$18\r\n1.1000000000000001\r\n", ",1.1000000000000001\r\n"],
    ["double exponent", double(1e20), "$5\r\n1e+20\r\n", ",1e+20\r\n"],
    ["double inf", double(Infinity), "$3\r\ninf\r\n", ",inf\r\n"],
    ["double -inf", double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
    ["double nan", double(NaN), "$3\r\nnan\r\n", ",nan\r\n"],
    ["double -0", double(-0), "$2\r\n-0\r\n", ",-0\r\n"],
    ["true", boolean(true), ":1\r\n", "#t\r\n"],
    ["false", boolean(false), ":0\r\n", "#f\r\n"],
    [
      "bignum",
      bignum("1234567999999999999999999999999999999"),
      "$37\r\n1234567999999999999999999999999999999\r\n",
      "(1234567999999999999999999999999999999\r\n",
    ],
    [
      "verbatim",
      verbatim("This is a verbatim\nstring"),
      "$25\r\nThis is a verbatim\nstring\r\n",
      "=29\r\ntxt:This is a verbatim\nstring\r\n",
    ],
    ["verbatim mkd", verbatim("# x", "mkd"), "$3\r\n# x\r\n", "=7\r\nmkd:# x\r\n"],
    ["nested", array([map([[bulk("k"), NULL]]), array([])]), "*2\r\n*2\r\n$1\r\nk\r\n$-1\r\n*0\r\n", "*2\r\n%1\r\n$1\r\nk\r\n_\r\n*0\r\n"],
    ["utf-8 simple", simple("héllo"), "+héllo\r\n", "+héllo\r\n"],
  ];
  it.each(cases)("%s", (_name, reply, resp2, resp3) => {
    expect(wire(reply, 2)).toBe(resp2);
    expect(wire(reply, 3)).toBe(resp3);
  });

  it("counts bulk lengths in bytes, not chars", () => {
    expect(wire(bulk("é"), 2)).toBe("$2\r\né\r\n");
  });

  it("turns CR and LF in simple strings and errors into spaces, as Redis does", () => {
    // Redis 7.0: ECHO-free status/error replies with CRLF inside, via Lua:
    // status_reply("a\r\nb") -> "+a  b", error_reply("x\r\ny\n") -> "-ERR x  y".
    expect(wire(simple("a\r\nb"), 3)).toBe("+a  b\r\n");
    expect(wire(error("ERR x\r\ny\n"), 2)).toBe("-ERR x  y\r\n");
    expect(wire(error("ERR unknown command 'FOO\r\nBAR'"), 2)).toBe("-ERR unknown command 'FOO  BAR'\r\n");
    expect(wire(bignum("1\r\n"), 3)).toBe("(1  \r\n");
  });

  it("rejects a non-integer integer reply without leaving partial bytes", () => {
    const w = new ReplyWriter();
    w.write(OK, 2);
    expect(() => w.write(array([integer(1), integer(1.5)]), 2)).toThrow(TypeError);
    expect(new TextDecoder().decode(w.take())).toBe("+OK\r\n");
  });
});

describe("ReplyWriter", () => {
  it("accumulates replies and resets on take()", () => {
    const w = new ReplyWriter(4);
    expect(w.length).toBe(0);
    w.write(OK, 2);
    w.write(integer(10), 2);
    w.writeRaw(new TextEncoder().encode("+RAW\r\n"));
    w.write(bulk("x".repeat(10000)), 3);
    expect(w.length).toBe(5 + 5 + 6 + 10010);
    const out = new TextDecoder().decode(w.take());
    expect(out.startsWith("+OK\r\n:10\r\n+RAW\r\n$10000\r\nxxx")).toBe(true);
    expect(w.length).toBe(0);
    w.write(NULL, 2);
    expect(new TextDecoder().decode(w.take())).toBe("$-1\r\n");
  });

  it("take() does not alias later writes", () => {
    const w = new ReplyWriter();
    w.write(simple("one"), 2);
    const first = w.take();
    w.write(simple("two"), 2);
    expect(new TextDecoder().decode(first)).toBe("+one\r\n");
  });
});

describe("encodeCommand", () => {
  it("produces the exact bytes Redis clients send", () => {
    expect(new TextDecoder().decode(encodeCommand(["SET", "key", "value"]))).toBe(
      "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
    );
    expect(new TextDecoder().decode(encodeCommand([]))).toBe("*0\r\n");
    expect(encodeCommand(["é", new Uint8Array([0, 255])])).toEqual(
      new Uint8Array([...new TextEncoder().encode("*2\r\n$2\r\n"), 0xc3, 0xa9, 13, 10, 36, 50, 13, 10, 0, 255, 13, 10]),
    );
    const big = "v".repeat(123456);
    expect(encodeCommand(["SET", "k", big]).length).toBe(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$123456\r\n${big}\r\n`.length);
  });
});
