import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ByteQueue, compareBytes, concat, equalBytes, latin1, PayloadBuffer, text, utf8 } from "../../../shared/util/bytes.ts";

describe("byte helpers", () => {
  it("converts text both ways", () => {
    expect(utf8("héllo")).toEqual(new Uint8Array([104, 195, 169, 108, 108, 111]));
    expect(text(utf8("héllo"))).toBe("héllo");
    expect(text(new Uint8Array([0xff, 65]))).toBe("\ufffdA"); // lossy, never throws
    expect(latin1(new Uint8Array([0xff, 65, 0]))).toBe("\xffA\0");
    expect(latin1(new Uint8Array(20000).fill(66))).toBe("B".repeat(20000));
  });

  it("concatenates", () => {
    expect(concat([utf8("ab"), new Uint8Array(0), utf8("c")])).toEqual(utf8("abc"));
    expect(concat([utf8("ab"), utf8("c")], 3)).toEqual(utf8("abc"));
    expect(concat([])).toEqual(new Uint8Array(0));
  });

  it("compares in memcmp order, shorter prefix first", () => {
    expect(compareBytes(utf8("a"), utf8("b"))).toBe(-1);
    expect(compareBytes(utf8("b"), utf8("a"))).toBe(1);
    expect(compareBytes(utf8("ab"), utf8("ab"))).toBe(0);
    expect(compareBytes(utf8("ab"), utf8("abc"))).toBe(-1);
    expect(compareBytes(utf8("abc"), utf8("ab"))).toBe(1);
    expect(compareBytes(new Uint8Array([0x80]), new Uint8Array([0x7f]))).toBe(1); // unsigned
    expect(compareBytes(new Uint8Array(0), new Uint8Array(0))).toBe(0);
    expect(equalBytes(utf8("ab"), utf8("ab"))).toBe(true);
    expect(equalBytes(utf8("ab"), utf8("ac"))).toBe(false);
    expect(equalBytes(utf8("ab"), utf8("abc"))).toBe(false);
  });

  it("compareBytes agrees with comparing latin1 strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        const x = latin1(a);
        const y = latin1(b);
        expect(compareBytes(a, b)).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
    );
  });
});

describe("ByteQueue", () => {
  it("is a FIFO whatever the chunking", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), fc.nat(5000), (chunks, step) => {
        const q = new ByteQueue(16);
        const all = concat(chunks);
        const out: Uint8Array[] = [];
        for (const c of chunks) {
          q.push(c);
          const n = Math.min(q.length, (step % 700) + 1);
          out.push(q.take(n));
        }
        out.push(q.take(q.length));
        expect(concat(out)).toEqual(all);
        expect(q.length).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("finds bytes, stopping at a sentinel like strchr", () => {
    const q = new ByteQueue(4);
    q.push(utf8("ab\0c\rd"));
    expect(q.find(13, 0)).toBe(4);
    expect(q.find(13, 0, 0)).toBe(-2);
    expect(q.find(13, 3, 0)).toBe(4);
    expect(q.find(10, 0)).toBe(-1);
    q.skip(3);
    expect(q.find(13, 0, 0)).toBe(1);
    expect(q.at(0)).toBe(99);
    expect(q.view(0, 2)).toEqual(utf8("c\r"));
    const dst = new Uint8Array(5);
    expect(q.moveTo(dst, 1, 10)).toBe(3);
    expect(dst).toEqual(new Uint8Array([0, 99, 13, 100, 0]));
    expect(q.length).toBe(0);
  });

  it("take() returns copies that do not alias the queue", () => {
    const q = new ByteQueue(8);
    q.push(utf8("abcd"));
    const first = q.take(2);
    q.push(utf8("efghijklmnop"));
    expect(text(first)).toBe("ab");
    expect(text(q.take(q.length))).toBe("cdefghijklmnop");
  });
});

describe("PayloadBuffer", () => {
  it("fills to its announced size from chunks and queues, taking no more", () => {
    const size = 200_000;
    const data = Uint8Array.from({ length: size + 5 }, (_, i) => i % 251);
    const p = new PayloadBuffer(size);
    const q = new ByteQueue();
    q.push(data.subarray(0, 1000));
    p.fillFrom(q);
    expect(p.filled).toBe(1000);
    let at = 1000;
    while (!p.complete) at += p.fill(data.subarray(at, at + 7777));
    expect(at).toBe(size);
    expect(p.fill(data.subarray(at))).toBe(0);
    expect(p.result()).toEqual(data.subarray(0, size));
  });

  it("does not reserve the announced size up front", () => {
    const p = new PayloadBuffer(2 ** 31); // more than a Uint8Array may hold at once here
    expect(p.fill(utf8("abc"))).toBe(3);
    expect(p.filled).toBe(3);
    expect(p.complete).toBe(false);
  });
});
