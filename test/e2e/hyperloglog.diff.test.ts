/**
 * HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG) against
 * redis-server 7.0, in RESP2 and RESP3.
 *
 * tidekv stores Redis's own HLL format (sparse, promoted to dense) with the
 * same hash and estimator, so replies are compared byte for byte everywhere:
 * PFADD's 0/1, PFCOUNT at small and large cardinalities, and the raw value
 * (GET) after adds, merges, promotions and cache updates.
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const run = (name: string, steps: Step[]) => runDifferential(`hll-${name}`, steps, { protocols: [2, 3] });
const script = (text: string, origin: string): Step[] => parseScript(text, origin);

/** PFADD key prefix<from> ... prefix<to-1>, in commands of `batch` elements. */
function adds(key: string, prefix: string, from: number, to: number, batch = 500): Step[] {
  const steps: Step[] = [];
  for (let start = from; start < to; start += batch) {
    const cmd = ["PFADD", key];
    for (let i = start; i < Math.min(to, start + batch); i++) cmd.push(`${prefix}${i}`);
    steps.push({ cmd });
  }
  return steps;
}

describe("hyperloglog commands vs redis-server", () => {
  useDifferentialServers();

  it("PFADD and PFCOUNT on small sets (sparse)", () =>
    run("small", script(String.raw`
      PFADD h a
      PFADD h a
      PFADD h b c d
      PFADD h a b c d
      GET h
      PFCOUNT h
      GET h
      PFCOUNT h
      PFADD h e
      GET h
      PFCOUNT h
      PFADD h
      PFADD empty
      GET empty
      PFCOUNT empty
      GET empty
      PFADD empty
      PFCOUNT nokey
      EXISTS nokey
      PFADD bin "" "\x00" "\xff\xfe" "a\r\nb"
      PFCOUNT bin
      GET bin
      PFADD h2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
      PFCOUNT h2
      GET h2
      PFCOUNT h h2
      PFCOUNT h h2 nokey
      PFCOUNT nokey nokey2
      TYPE h
      STRLEN h
      SET s x EX 100
      DEL s
      PFADD ttl a
      EXPIRE ttl 100
      PFADD ttl b
      TTL ttl ~type
      PFCOUNT ttl
      TTL ttl ~type
      PFADD
      PFCOUNT
    `, "small")));

  it("promotion to dense, and counts at larger cardinalities", () =>
    run("dense", [
      ...adds("d", "el:", 0, 200),
      { cmd: ["PFDEBUG", "ENCODING", "d"] },
      { cmd: ["PFCOUNT", "d"] },
      { cmd: ["GET", "d"] },
      ...adds("d", "el:", 200, 3000),
      { cmd: ["PFDEBUG", "ENCODING", "d"] },
      { cmd: ["PFCOUNT", "d"] },
      { cmd: ["GET", "d"] },
      ...adds("d", "el:", 3000, 20000, 1000),
      { cmd: ["PFCOUNT", "d"] },
      { cmd: ["PFADD", "d", "el:1", "el:2"] },
      { cmd: ["GET", "d"] },
      ...adds("d2", "x", 0, 20000, 1000),
      { cmd: ["PFCOUNT", "d2"] },
      { cmd: ["PFCOUNT", "d", "d2"] },
      { cmd: ["PFMERGE", "m", "d", "d2"] },
      { cmd: ["PFCOUNT", "m"] },
      { cmd: ["GET", "m"] },
      ...adds("s", "el:", 0, 50),
      { cmd: ["PFCOUNT", "s", "d"] },
      { cmd: ["PFMERGE", "s", "d2"] },
      { cmd: ["PFDEBUG", "ENCODING", "s"] },
      { cmd: ["PFCOUNT", "s"] },
      { cmd: ["GET", "s"] },
    ]));

  it("hll-sparse-max-bytes decides the promotion", () =>
    run("sparse-max", [
      { cmd: ["CONFIG", "SET", "hll-sparse-max-bytes", "60"] },
      ...adds("p", "v", 0, 5, 1),
      { cmd: ["PFDEBUG", "ENCODING", "p"] },
      { cmd: ["GET", "p"] },
      ...adds("p", "v", 5, 40, 1),
      { cmd: ["PFDEBUG", "ENCODING", "p"] },
      { cmd: ["PFCOUNT", "p"] },
      { cmd: ["GET", "p"] },
      { cmd: ["CONFIG", "SET", "hll-sparse-max-bytes", "3000"] },
      ...adds("q", "v", 0, 40, 1),
      { cmd: ["PFDEBUG", "ENCODING", "q"] },
      { cmd: ["PFDEBUG", "DECODE", "q"] },
      { cmd: ["GET", "q"] },
    ]));

  it("PFMERGE", () =>
    run("merge", script(String.raw`
      PFADD a 1 2 3 4 5
      PFADD b 4 5 6 7 8 9
      PFMERGE dst a b
      GET dst
      PFCOUNT dst
      PFMERGE dst a b
      GET dst
      PFMERGE dst
      GET dst
      PFMERGE fresh
      GET fresh
      PFCOUNT fresh
      PFMERGE fresh2 nokey1 nokey2
      GET fresh2
      PFMERGE a b
      PFCOUNT a
      GET a
      PFMERGE c a nokey
      GET c
      PFADD t x
      EXPIRE t 100
      PFMERGE t a
      TTL t ~type
      GET t
      SET notahll foo
      PFMERGE dst notahll
      PFMERGE notahll a
      RPUSH list a
      PFMERGE dst list
      PFMERGE list a
      PFMERGE
      GET dst
    `, "merge")));

  it("values that are not HyperLogLogs", () =>
    run("invalid", script(String.raw`
      SET s foo
      PFADD s a
      PFCOUNT s
      PFCOUNT s nokey
      PFMERGE d s
      SET short HYLL
      PFADD short a
      SET num 1234567890123456789
      PFCOUNT num
      SET wrongenc "HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
      PFCOUNT wrongenc
      SET shortdense "HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
      PFCOUNT shortdense
      PFADD shortdense a
      SET badmagic "HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
      PFCOUNT badmagic
      SET corrupt "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe"
      PFCOUNT corrupt
      PFCOUNT corrupt nokey
      PFMERGE d corrupt
      EXISTS d
      SET cached "HYLL\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
      PFCOUNT cached
      PFADD cached a
      PFCOUNT cached
      GET cached
      SET long "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x80\x80\x80"
      PFCOUNT long
      RPUSH list a
      PFADD list a
      PFCOUNT list
      PFCOUNT s list
      PFCOUNT list s
      HSET h f v
      PFMERGE h
    `, "invalid")));

  it("PFDEBUG", () =>
    run("pfdebug", script(String.raw`
      PFADD h a b c
      PFDEBUG ENCODING h
      PFDEBUG DECODE h
      PFDEBUG decode h
      PFDEBUG TODENSE h
      PFDEBUG ENCODING h
      PFDEBUG TODENSE h
      PFDEBUG DECODE h
      PFCOUNT h
      GET h
      PFADD h2 x y
      PFDEBUG GETREG h2
      PFDEBUG ENCODING h2
      GET h2
      PFDEBUG ENCODING nokey
      PFDEBUG FOO h
      PFDEBUG FOO nokey
      SET s foo
      PFDEBUG ENCODING s
      PFDEBUG ENCODING
      PFDEBUG ENCODING h extra
    `, "pfdebug")));

  it("HyperLogLog commands in MULTI", () =>
    run("multi", script(String.raw`
      MULTI
      PFADD m a b c
      PFCOUNT m
      PFADD m d
      PFMERGE m2 m
      PFCOUNT m m2
      GET m
      EXEC
      GET m2
    `, "multi")));
});
