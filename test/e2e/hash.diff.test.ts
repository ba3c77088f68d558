/**
 * Hash commands against redis-server 7.0, in RESP2 and RESP3.
 *
 * Order: Redis returns a small (listpack) hash in insertion order, tidekv in
 * field byte order. Scripts that compare whole-hash replies byte for byte
 * therefore insert fields in byte order; elsewhere those replies are compared
 * in any order (~pairs / ~unordered) or, for random and cursor-dependent
 * replies of large hashes, by type only.
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const script = (text: string, origin: string): Step[] => parseScript(text, origin);

/** HSET key f000 v000 f001 v001 ... (n fields, inserted in byte order). */
function bigHash(key: string, n: number, valueSize = 3): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < n; start += 100) {
    const cmd = ["HSET", key];
    for (let i = start; i < Math.min(n, start + 100); i++) {
      cmd.push(`f${String(i).padStart(3, "0")}`, `v${String(i).padStart(valueSize - 1, "0")}`);
    }
    steps.push({ cmd });
  }
  return steps;
}

describe("hash commands, differential", () => {
  useDifferentialServers();

  it("HSET, HMSET, HSETNX, HGET, HMGET", () =>
    runDifferential("hash-set-get", script(`
      HSET h a 1
      HSET h a 2 b 3
      HSET h c 4 c 5 d 6
      HSET h e
      HSET h e 1 f
      HSET h
      HSET
      HGET h a
      HGET h c
      HGET h nosuch
      HGET nokey a
      HGET h
      HGET h a b
      HMSET h g 7 h 8
      HMSET h g 7 h
      HMSET h g
      HMGET h a b nosuch a
      HMGET nokey a b
      HMGET h
      HSETNX h a 100
      HSETNX h z 100
      HSETNX h z 200
      HSETNX nx f v
      HSETNX h z
      HGET h z
      HGET nx f
      HSET bin "\\x00\\xff" "\\r\\n\\x00"
      HGET bin "\\x00\\xff"
      HSET empty "" ""
      HGET empty ""
      HSTRLEN empty ""
      HSET ints 1 -1 2 9223372036854775807 3 007 4 -0 5 1.5
      HGET ints 1
      HGET ints 2
      HGET ints 3
      HGET ints 4
      HMGET ints 1 2 3 4 5 6
      HGETALL ints
      HLEN h
      HGETALL h ~pairs
    `, "set-get")));

  it("HDEL, HEXISTS, HLEN, HSTRLEN, and empty hashes disappear", () =>
    runDifferential("hash-del", script(`
      HSET h a 1 b 22 c 333
      HDEL h a
      HDEL h a
      HDEL h nosuch b nosuch
      HEXISTS h a
      HEXISTS h c
      HEXISTS nokey c
      HEXISTS h
      HLEN h
      HLEN nokey
      HLEN
      HSTRLEN h c
      HSTRLEN h a
      HSTRLEN nokey a
      HSTRLEN h
      HDEL h c c c
      EXISTS h
      HLEN h
      HGETALL h
      HKEYS h
      HVALS h
      TYPE h
      HDEL nokey a
      HDEL h
      HSET h x 1 y 2
      HDEL h x y z
      EXISTS h
      HSET h "héllo" "wörld"
      HSTRLEN h "héllo"
      HEXISTS h "héllo"
    `, "del")));

  it("HGETALL, HKEYS, HVALS", () =>
    runDifferential("hash-getall", [
      ...script(`
        HSET h a 1 b 2 c 3
        HGETALL h
        HKEYS h
        HVALS h
        HGETALL nokey
        HKEYS nokey
        HVALS nokey
        HGETALL
        HKEYS h extra
        HSET unordered zz 1 aa 2 mm 3
        HGETALL unordered ~pairs
        HKEYS unordered ~unordered
        HVALS unordered ~unordered
      `, "getall"),
      // 300 fields: still a listpack in Redis (hash-max-listpack-entries is 512),
      // so inserted in byte order the replies match byte for byte.
      ...bigHash("mid", 300),
      ...script(`
        HLEN mid
        HGETALL mid
        HKEYS mid
        HVALS mid
      `, "getall-mid"),
      // 600 fields: a hash table in Redis, in its own order.
      ...bigHash("big", 600),
      ...script(`
        HLEN big
        HGET big f550
        HGETALL big ~pairs
        HKEYS big ~unordered
        HVALS big ~unordered
        HDEL big f000 f599 nosuch
        HLEN big
        HKEYS big ~unordered
      `, "getall-big"),
    ]));

  it("HINCRBY", () =>
    runDifferential("hash-hincrby", script(`
      HINCRBY h n 5
      HINCRBY h n -7
      HINCRBY h n 0
      HGET h n
      HINCRBY h n x
      HINCRBY h n ""
      HINCRBY h n 1.0
      HINCRBY h n +1
      HINCRBY h n " 1"
      HINCRBY h n 01
      HINCRBY h n 9223372036854775808
      HINCRBY nokey n x
      EXISTS nokey
      HSET h s abc lead 007 sp " 1" fl 1.5 empty ""
      HINCRBY h s 1
      HINCRBY h lead 1
      HINCRBY h sp 1
      HINCRBY h fl 1
      HINCRBY h empty 1
      HSET h big 9223372036854775806
      HINCRBY h big 1
      HINCRBY h big 1
      HINCRBY h big -9223372036854775807
      HINCRBY h big -9223372036854775807
      HINCRBY h big -1
      HINCRBY h big -1
      HGET h big
      HSET h min -9223372036854775808
      HINCRBY h min -1
      HINCRBY h min 9223372036854775807
      HINCRBY h new -9223372036854775808
      HINCRBY h
      HINCRBY h n
      HINCRBY h n 1 2
      HGETALL h ~pairs
    `, "hincrby")));

  it("HINCRBYFLOAT", () =>
    runDifferential("hash-hincrbyfloat", script(`
      HINCRBYFLOAT h x 0.1
      HINCRBYFLOAT h x 0.2
      HINCRBYFLOAT h x -0.3
      HINCRBYFLOAT h x 1e3
      HINCRBYFLOAT h x 5.0e3
      HINCRBYFLOAT h x 0x10
      HINCRBYFLOAT h x 0x1p-2
      HINCRBYFLOAT h x -6016.25
      HINCRBYFLOAT h x -0
      HINCRBYFLOAT h y 1e400
      HINCRBYFLOAT h z 1.5e-7
      HINCRBYFLOAT h z 3
      HINCRBYFLOAT h w 10.50
      HINCRBYFLOAT h w .5
      HINCRBYFLOAT h w 5.
      HINCRBYFLOAT h w 123456789012345678901234567890
      HINCRBYFLOAT h x abc
      HINCRBYFLOAT h x ""
      HINCRBYFLOAT h x " 1"
      HINCRBYFLOAT h x "1 "
      HINCRBYFLOAT h x inf
      HINCRBYFLOAT h x -infinity
      HINCRBYFLOAT h x nan
      HINCRBYFLOAT h x 1e5000
      HINCRBYFLOAT nokey x inf
      EXISTS nokey
      HSET h s abc sp " 1" int 41 i inf big 1e4000 huge 1e4932
      HINCRBYFLOAT h s 1
      HINCRBYFLOAT h sp 1
      HINCRBYFLOAT h int 1
      HINCRBYFLOAT h int 0.5
      HINCRBYFLOAT h i 1
      HINCRBYFLOAT h big 1
      HINCRBYFLOAT h huge 1e4932
      HINCRBYFLOAT h
      HINCRBYFLOAT h x
      HINCRBYFLOAT h x 1 2
      HGET h x
      HGET h y
      HGET h z
      HGET h w
      HGET h int
    `, "hincrbyfloat")));

  it("HRANDFIELD", () =>
    runDifferential("hash-hrandfield", [
      // Fields inserted in byte order: "the whole hash" replies then match byte for byte.
      ...script(`
        HSET h a 1 b 2 c 3 d 4 e 5
        HRANDFIELD h ~type
        HRANDFIELD nokey
        HRANDFIELD h 5
        HRANDFIELD h 6
        HRANDFIELD h 100
        HRANDFIELD h 5 WITHVALUES
        HRANDFIELD h 100 withvalues
        HRANDFIELD h 0
        HRANDFIELD h 0 WITHVALUES
        HRANDFIELD h -0
        HRANDFIELD nokey 5
        HRANDFIELD nokey -5 WITHVALUES
        HRANDFIELD nokey 0
        HRANDFIELD h 1 ~type
        HRANDFIELD h 3 ~type
        HRANDFIELD h -3 ~type
        HRANDFIELD h -20 ~type
        HRANDFIELD h 1 WITHVALUES ~type
        HRANDFIELD h 2 WITHVALUES ~type
        HRANDFIELD h -4 WITHVALUES ~type
        HRANDFIELD h -1 WITHVALUES ~type
        HSET one only 1
        HRANDFIELD one
        HRANDFIELD one 1
        HRANDFIELD one -3
        HRANDFIELD one -3 WITHVALUES
        HRANDFIELD one 2 WITHVALUES
        HRANDFIELD one 1 WITHVALUES
        HRANDFIELD h x
        HRANDFIELD h 1.5
        HRANDFIELD h ""
        HRANDFIELD h 1 WITHVALUE
        HRANDFIELD h 1 WITHVALUES extra
        HRANDFIELD h 1 2
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h -9223372036854775808 WITHVALUES
        HRANDFIELD h 9223372036854775808
        HRANDFIELD h -9223372036854770000 WITHVALUES
        HRANDFIELD h 9223372036854770000 WITHVALUES
        HRANDFIELD h 4611686018427387904 WITHVALUES
        HRANDFIELD h -4611686018427387904 WITHVALUES
        HRANDFIELD h 4611686018427387903 WITHVALUES
        HRANDFIELD h 9223372036854775807
        HRANDFIELD nokey -9223372036854770000 WITHVALUES
        HRANDFIELD nokey x
        HRANDFIELD
      `, "hrandfield"),
      ...bigHash("big", 600),
      ...script(`
        HRANDFIELD big ~type
        HRANDFIELD big 10 ~type
        HRANDFIELD big 150 ~type
        HRANDFIELD big 500 ~type
        HRANDFIELD big -10 WITHVALUES ~type
        HRANDFIELD big 599 WITHVALUES ~type
        HRANDFIELD big 600 ~unordered
        HRANDFIELD big 1000 ~unordered
        HRANDFIELD big 1000 WITHVALUES ~unordered
      `, "hrandfield-big"),
      ...bigHash("mid", 300),
      ...script(`
        HRANDFIELD mid 300
        HRANDFIELD mid 1000 WITHVALUES
        HRANDFIELD mid 20 ~type
      `, "hrandfield-mid"),
    ]));

  it("HSCAN", () =>
    runDifferential("hash-hscan", [
      ...script(`
        HSET h a 1 b 2 c 3 foo 4 foobar 5
        HSCAN h 0
        HSCAN h 0 COUNT 1
        HSCAN h 123 COUNT 2
        HSCAN h 0 MATCH foo*
        HSCAN h 0 MATCH *
        HSCAN h 0 MATCH f?o
        HSCAN h 0 MATCH [ab]
        HSCAN h 0 match nomatch count 100
        HSCAN h 0 COUNT 5 MATCH a COUNT 3 MATCH b
        HSCAN nokey 0
        HSCAN nokey 0 BOGUS
        HSCAN nokey x
        HSCAN h ""
        HSCAN h -1
        HSCAN h +5
        HSCAN h 007
        HSCAN h 18446744073709551615
        HSCAN h 18446744073709551616
        HSCAN h -18446744073709551616
        HSCAN h " 0"
        HSCAN h "0 "
        HSCAN h 0x10
        HSCAN h +
        HSCAN h -
        HSCAN h x
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT -1
        HSCAN h 0 COUNT x
        HSCAN h 0 COUNT
        HSCAN h 0 MATCH
        HSCAN h 0 NOVALUES
        HSCAN h 0 TYPE hash
        HSCAN h 0 COUNT 9223372036854775807
        HSCAN h 0 COUNT 9223372036854775808
        HSCAN h
        HSCAN
      `, "hscan"),
      ...bigHash("mid", 300),
      ...script(`
        HSCAN mid 0
        HSCAN mid 0 COUNT 3
        HSCAN mid 99 MATCH f1?0
      `, "hscan-mid"),
      ...bigHash("big", 600),
      ...script(`
        HSCAN big 0 ~type
        HSCAN big 0 COUNT 50 ~type
        HSCAN big 0 MATCH f1* COUNT 1000 ~type
        HSCAN big 0 COUNT 0
        HSCAN big x
      `, "hscan-big"),
      // A hash with a long value is a hash table in Redis even when small.
      ...script(`
        HSET longval a 1 b "${"x".repeat(65)}"
        HSCAN longval 0 ~type
        HSET shortval a 1 b "${"x".repeat(64)}"
        HSCAN shortval 0
        HSET longfield "${"y".repeat(65)}" 1
        OBJECT ENCODING longval
        OBJECT ENCODING shortval
        OBJECT ENCODING longfield
        OBJECT ENCODING mid
        OBJECT ENCODING big
      `, "hscan-encoding"),
    ]));

  it("WRONGTYPE: hash commands on a string, GET on a hash", () =>
    runDifferential("hash-wrongtype", script(`
      SET s x
      HSET h a 1
      HSET s a 1
      HMSET s a 1
      HSETNX s a 1
      HGET s a
      HMGET s a b
      HDEL s a
      HEXISTS s a
      HLEN s
      HSTRLEN s a
      HKEYS s
      HVALS s
      HGETALL s
      HINCRBY s a 1
      HINCRBY s a x
      HINCRBYFLOAT s a 1
      HINCRBYFLOAT s a inf
      HRANDFIELD s
      HRANDFIELD s 3
      HRANDFIELD s 0
      HRANDFIELD s -3 WITHVALUES
      HRANDFIELD s x
      HSCAN s 0
      HSCAN s 0 BOGUS
      HSCAN s x
      GET h
      GET s
      TYPE h
      HSET s a
    `, "wrongtype")));
});
