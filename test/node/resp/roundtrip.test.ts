import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  encodeCommand, encodeReply, ProtocolError, ReplyParser, ReplyWriter, RequestParser, type Reply,
} from "../../../shared/resp/index.ts";
import { latin1 } from "../../../shared/util/bytes.ts";

const SEED = 20240601;

/** Text without CR/LF (simple strings and errors cannot carry them) and without lone surrogates. */
const lineText = fc.string({ unit: "binary", maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));

const { reply } = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ type: fc.constant("simple" as const), value: lineText }),
    fc.record({ type: fc.constant("error" as const), value: lineText }),
    fc.record({
      type: fc.constant("integer" as const),
      value: fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
    }),
    fc.record({ type: fc.constant("bulk" as const), value: fc.uint8Array({ maxLength: 40 }) }),
    fc.constant({ type: "null" as const }),
    fc.constant({ type: "nullarray" as const }),
    fc.record({ type: fc.constant("double" as const), value: fc.double() }),
    fc.record({ type: fc.constant("boolean" as const), value: fc.boolean() }),
    fc.record({ type: fc.constant("bignum" as const), value: fc.bigInt().map((n) => n.toString()) }),
    fc.record({
      type: fc.constant("verbatim" as const),
      format: fc.constantFrom("txt", "mkd"),
      value: fc.uint8Array({ maxLength: 30 }),
    }),
    fc.record({ type: fc.constant("array" as const), value: fc.array(tie("reply"), { maxLength: 4 }) }),
    fc.record({ type: fc.constant("set" as const), value: fc.array(tie("reply"), { maxLength: 4 }) }),
    fc.record({ type: fc.constant("push" as const), value: fc.array(tie("reply"), { maxLength: 4 }) }),
    fc.record({
      type: fc.constant("map" as const),
      value: fc.array(fc.tuple(tie("reply"), tie("reply")), { maxLength: 3 }),
    }),
  ),
}));

/** What RESP3 can tell apart: both nulls travel as `_`, and safe-range bigints come back as numbers. */
function normalise(r: Reply): Reply {
  switch (r.type) {
    case "nullarray":
      return { type: "null" };
    case "integer":
      return { type: "integer", value: Number.isSafeInteger(Number(r.value)) ? Number(r.value) : BigInt(r.value) };
    case "array":
    case "set":
    case "push":
      return { type: r.type, value: r.value.map(normalise) };
    case "map":
      return { type: "map", value: r.value.map(([k, v]) => [normalise(k), normalise(v)] as [Reply, Reply]) };
    default:
      return r;
  }
}

/** Cut points from fractions, so any split of any stream can be generated. */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

function split(bytes: Uint8Array, fractions: number[]): Uint8Array[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  return chunks;
}

function decodeChunks(chunks: Uint8Array[]): Reply[] {
  const p = new ReplyParser();
  const out: Reply[] = [];
  for (const c of chunks) {
    p.feed(c);
    for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  }
  return out;
}

describe("RESP property tests", () => {
  it("(a) decode(encode(x, 3)) equals x", () => {
    fc.assert(
      fc.property(reply, (x) => {
        expect(decodeChunks([encodeReply(x, 3)])).toEqual([normalise(x)]);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("(b) any split of a reply stream decodes the same", () => {
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 6 }), fc.constantFrom<2 | 3>(2, 3), cuts, (xs, protocol, fractions) => {
        const w = new ReplyWriter(16);
        for (const x of xs) w.write(x, protocol);
        const bytes = w.take();
        expect(decodeChunks(split(bytes, fractions))).toEqual(decodeChunks([bytes]));
        expect(decodeChunks(split(bytes, fractions)).length).toBe(xs.length);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  const argv = fc.array(
    fc.oneof(
      { weight: 20, arbitrary: fc.uint8Array({ maxLength: 24 }) },
      { weight: 1, arbitrary: fc.integer({ min: 32 * 1024, max: 40 * 1024 }).map((n) => new Uint8Array(n).fill(n & 255)) },
    ),
    { minLength: 1, maxLength: 5 },
  );

  it("(c) RequestParser returns the argv of encodeCommand streams, however split", () => {
    fc.assert(
      fc.property(fc.array(argv, { minLength: 1, maxLength: 8 }), cuts, (commands, fractions) => {
        const stream = new Uint8Array(commands.reduce((n, a) => n + encodeCommand(a).length, 0));
        let at = 0;
        for (const a of commands) {
          const bytes = encodeCommand(a);
          stream.set(bytes, at);
          at += bytes.length;
        }
        const parser = new RequestParser({ maxBulkLength: 1 << 20, maxMultibulkLength: 1 << 20 });
        const got: Uint8Array[][] = [];
        for (const chunk of split(stream, fractions)) {
          parser.feed(chunk);
          for (let r = parser.next(); r !== null; r = parser.next()) {
            if (r instanceof ProtocolError) throw r;
            got.push(r);
          }
        }
        // Compared as latin1 strings: deep-equality on 40 KB typed arrays is slow.
        expect(got.map((a) => a.map(latin1))).toEqual(commands.map((a) => a.map(latin1)));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  /** Quotes an argument for an inline request in one of the ways sdssplitargs reads back. */
  function quote(arg: Uint8Array, style: number): string {
    const bytes = Array.from(arg);
    const plain = (c: number) => c > 32 && c < 127 && c !== 34 && c !== 39 && c !== 92;
    if (style === 0 && bytes.length > 0 && bytes.every(plain)) return String.fromCharCode(...bytes);
    if (style === 1 && bytes.every((c) => c >= 32 && c < 127 && c !== 92)) {
      return "'" + String.fromCharCode(...bytes).replace(/'/g, "\\'") + "'";
    }
    let out = '"';
    for (const c of bytes) {
      if (c === 34) out += '\\"';
      else if (c === 92) out += "\\\\";
      else if (c === 10) out += "\\n";
      else if (c >= 32 && c < 127) out += String.fromCharCode(c);
      else out += "\\x" + c.toString(16).padStart(2, "0");
    }
    return out + '"';
  }

  it("(d) inline commands with quoted arguments round-trip", () => {
    const inline = fc.array(fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.nat(2)), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(fc.array(inline, { minLength: 1, maxLength: 5 }), fc.constantFrom(" ", "  ", "\t"), cuts, (commands, sep, fractions) => {
        const text = commands.map((args) => args.map(([a, s]) => quote(a, s)).join(sep) + "\r\n").join("");
        const parser = new RequestParser({ maxBulkLength: 1 << 20, maxMultibulkLength: 1 << 20 });
        const got: Uint8Array[][] = [];
        for (const chunk of split(Uint8Array.from(text, (c) => c.charCodeAt(0)), fractions)) {
          parser.feed(chunk);
          for (let r = parser.next(); r !== null; r = parser.next()) {
            if (r instanceof ProtocolError) throw r;
            got.push(r);
          }
        }
        expect(got).toEqual(commands.map((args) => args.map(([a]) => a)));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
