import { describe, expect, it } from "vitest";
import { array, bignum, boolean, bulk, double, error, integer, map, NULL, NULL_ARRAY, push, set, simple, verbatim, EMPTY_ARRAY } from "../../../shared/resp/index.ts";
import { formatReply, printsVerbatim, repr } from "../../../client/cli/format.ts";
import { isSensitive } from "../../../client/cli/cli.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const std = (r: Parameters<typeof formatReply>[0]) => text(formatReply(r, "standard"));
const raw = (r: Parameters<typeof formatReply>[0]) => text(formatReply(r, "raw"));

describe("redis-cli formatting (standard / TTY)", () => {
  it("scalars", () => {
    expect(std(simple("OK"))).toBe("OK\n");
    expect(std(integer(-3))).toBe("(integer) -3\n");
    expect(std(bulk("a"))).toBe('"a"\n');
    expect(std(NULL)).toBe("(nil)\n");
    expect(std(NULL_ARRAY)).toBe("(nil)\n");
    expect(std(error("ERR syntax error"))).toBe("(error) ERR syntax error\n");
    expect(std(double(1.5))).toBe("(double) 1.5\n");
    expect(std(double(0.1))).toBe("(double) 0.10000000000000001\n");
    expect(std(boolean(true))).toBe("(true)\n");
    expect(std(boolean(false))).toBe("(false)\n");
    expect(std(verbatim("line1\nline2"))).toBe("line1\nline2\n");
    expect(std(bignum("-12345678901234567890"))).toBe("(big number) -12345678901234567890\n");
  });

  it("escapes bulk strings like sdscatrepr", () => {
    expect(repr(new Uint8Array([0x22, 0x5c, 10, 13, 9, 7, 8, 0, 0x7f, 0xff, 0x41]))).toBe('"\\"\\\\\\n\\r\\t\\a\\b\\x00\\x7f\\xffA"');
    expect(std(bulk("é"))).toBe('"\\xc3\\xa9"\n');
  });

  it("empty aggregates", () => {
    expect(std(EMPTY_ARRAY)).toBe("(empty array)\n");
    expect(std(map([]))).toBe("(empty hash)\n");
    expect(std(set([]))).toBe("(empty set)\n");
    expect(std(push([]))).toBe("(empty push)\n");
  });

  it("arrays: numbering, width of the index column, nested indentation", () => {
    expect(std(array([bulk("a"), bulk("b")]))).toBe('1) "a"\n2) "b"\n');
    const ten = array(Array.from({ length: 10 }, (_, i) => integer(i)));
    expect(std(ten)).toBe(Array.from({ length: 10 }, (_, i) => `${String(i + 1).padStart(2)}) (integer) ${i}\n`).join(""));
    const nested = array([bulk("x"), array([integer(1), array([bulk("deep"), NULL])]), EMPTY_ARRAY]);
    expect(std(nested)).toBe(
      '1) "x"\n' +
        "2) 1) (integer) 1\n" +
        '   2) 1) "deep"\n' +
        "      2) (nil)\n" +
        "3) (empty array)\n",
    );
  });

  it("maps and sets (RESP3)", () => {
    expect(std(map([[bulk("a"), bulk("1")], [bulk("b"), bulk("2")]]))).toBe('1# "a" => "1"\n2# "b" => "2"\n');
    expect(std(set([bulk("m"), bulk("n")]))).toBe('1~ "m"\n2~ "n"\n');
    // A multi-line value starts on its own line, aligned.
    expect(std(map([[bulk("k"), array([integer(1), integer(2)])], [bulk("s"), array([bulk("one")])]]))).toBe(
      '1# "k" => \n' + "   1) (integer) 1\n" + "   2) (integer) 2\n" + '2# "s" => 1) "one"\n',
    );
  });
});

describe("redis-cli formatting (raw)", () => {
  it("values only; errors keep their newline; nil prints nothing", () => {
    expect(raw(simple("OK"))).toBe("OK\n");
    expect(raw(integer(7))).toBe("7\n");
    expect(raw(bulk("a b"))).toBe("a b\n");
    expect(raw(NULL)).toBe("\n");
    expect(raw(error("WRONGTYPE x"))).toBe("WRONGTYPE x\n\n");
    expect(raw(array([bulk("a"), array([bulk("b"), integer(2)])]))).toBe("a\nb\n2\n");
    expect(raw(map([[bulk("a"), bulk("1")], [bulk("b"), bulk("2")]]))).toBe("a 1\nb 2\n");
    expect(raw(boolean(true))).toBe("(true)\n");
    expect(raw(double(2.5))).toBe("2.5\n");
    expect(raw(EMPTY_ARRAY)).toBe("\n");
  });

  it("keeps binary bytes as they are", () => {
    const bytes = new Uint8Array([0, 255, 10]);
    expect([...formatReply(bulk(bytes), "raw")]).toEqual([0, 255, 10, 10]);
  });

  it("INFO-like commands print verbatim without a trailing newline", () => {
    expect(printsVerbatim(["INFO"])).toBe(true);
    expect(printsVerbatim(["client", "list"])).toBe(true);
    expect(printsVerbatim(["CLUSTER", "NODES"])).toBe(true);
    expect(printsVerbatim(["CLUSTER", "SLOTS"])).toBe(false);
    expect(text(formatReply(bulk("# Server\r\nx:1\r\n"), "standard", true))).toBe("# Server\r\nx:1\r\n");
  });
});

describe("history filter", () => {
  it("keeps secrets out of the history file like redis-cli", () => {
    expect(isSensitive(["AUTH", "pw"])).toBe(true);
    expect(isSensitive(["hello", "3", "AUTH", "default", "pw"])).toBe(true);
    expect(isSensitive(["HELLO", "3", "SETNAME", "x"])).toBe(false);
    expect(isSensitive(["CONFIG", "SET", "requirepass", "x"])).toBe(true);
    expect(isSensitive(["SET", "auth", "x"])).toBe(false);
  });
});
