/**
 * Set commands against redis-server 7.0, in RESP2 and RESP3.
 *
 * Order: Redis returns an intset (integers only, at most
 * set-max-intset-entries) in numeric order, and tidekv does too, so those
 * replies compare byte for byte. Any other set is a hash table in Redis 7.0,
 * returned in hash order: those replies compare in any order (~unordered).
 * Random replies compare by type only (their semantics are checked in
 * test/workers/set.test.ts), except where the result is fully determined
 * (a count covering the whole set, a one-member set).
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const script = (text: string, origin: string): Step[] => parseScript(text, origin);

/** SADD key <prefix>000 <prefix>001 ... (n members, 100 per command). */
function bigSet(key: string, n: number, member: (i: number) => string = (i) => `m${String(i).padStart(4, "0")}`): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < n; start += 100) {
    const cmd = ["SADD", key];
    for (let i = start; i < Math.min(n, start + 100); i++) cmd.push(member(i));
    steps.push({ cmd });
  }
  return steps;
}

describe("set commands, differential", () => {
  useDifferentialServers();

  it("SADD, SREM, SCARD, SISMEMBER, SMISMEMBER", () =>
    runDifferential("set-basic", script(`
      SADD s a b c
      SADD s a a d
      SADD s a
      SADD s
      SADD
      SCARD s
      SCARD nokey
      SCARD
      SCARD s extra
      SISMEMBER s a
      SISMEMBER s zz
      SISMEMBER nokey a
      SISMEMBER s
      SISMEMBER s a b
      SMISMEMBER s a zz b a
      SMISMEMBER nokey a b
      SMISMEMBER s
      SMISMEMBER s ""
      SREM s a zz a
      SREM s zz
      SREM nokey a
      SREM s
      SCARD s
      SREM s b c d
      EXISTS s
      SCARD s
      TYPE s
      SADD bin "\\x00\\xff" "" "\\r\\n"
      SISMEMBER bin "\\x00\\xff"
      SISMEMBER bin ""
      SMISMEMBER bin "" "\\r\\n" "\\x00"
      SCARD bin
      SADD u "héllo" "wörld"
      SISMEMBER u "héllo"
      SREM u "héllo" "wörld" extra
      EXISTS u
    `, "basic")));

  it("SMEMBERS and encodings", () =>
    runDifferential("set-smembers", [
      ...script(`
        SADD ints 3 1 2 10 -5 100 -9223372036854775808 9223372036854775807 0
        SMEMBERS ints
        OBJECT ENCODING ints
        SADD ints 5
        SMEMBERS ints
        SADD strs b a c
        SMEMBERS strs ~unordered
        OBJECT ENCODING strs
        SADD mixed 1 2 x
        SMEMBERS mixed ~unordered
        OBJECT ENCODING mixed
        SADD notint 01 +1 -0 " 1" 1.0 9223372036854775808
        OBJECT ENCODING notint
        SMEMBERS notint ~unordered
        SADD one 42
        SMEMBERS one
        SADD onestr x
        SMEMBERS onestr
        SMEMBERS nokey
        SMEMBERS
        SMEMBERS ints extra
        SADD neg -1 -10 -2
        SMEMBERS neg
        OBJECT ENCODING neg
      `, "smembers"),
      // 600 integers: past set-max-intset-entries (512), a hash table in Redis.
      ...bigSet("bigint", 600, (i) => String(i * 7)),
      ...bigSet("edge", 512, (i) => String(i)),
      ...script(`
        OBJECT ENCODING bigint
        SCARD bigint
        SMEMBERS bigint ~unordered
        OBJECT ENCODING edge
        SMEMBERS edge
        SADD edge 512
        OBJECT ENCODING edge
        SMEMBERS edge ~unordered
      `, "smembers-big"),
      // A lower limit.
      ...script(`
        CONFIG SET set-max-intset-entries 4
        SADD small 4 3 2 1
        OBJECT ENCODING small
        SMEMBERS small
        SADD small 5
        OBJECT ENCODING small
        SMEMBERS small ~unordered
        SUNION small ~unordered
        SADD small2 1 2
        SUNION small2 small ~unordered
        SINTER small small2
        CONFIG SET set-max-intset-entries 512
      `, "smembers-config"),
    ]));

  it("SRANDMEMBER", () =>
    runDifferential("set-srandmember", [
      ...script(`
        SADD s 5 3 1 4 2
        SRANDMEMBER s ~type
        SRANDMEMBER nokey
        SRANDMEMBER s 5
        SRANDMEMBER s 6
        SRANDMEMBER s 9223372036854775807
        SRANDMEMBER s 0
        SRANDMEMBER nokey 5
        SRANDMEMBER nokey -5
        SRANDMEMBER nokey 0
        SRANDMEMBER s 1 ~type
        SRANDMEMBER s 3 ~type
        SRANDMEMBER s 4 ~type
        SRANDMEMBER s -3 ~type
        SRANDMEMBER s -20 ~type
        SADD one only
        SRANDMEMBER one
        SRANDMEMBER one 1
        SRANDMEMBER one -3
        SRANDMEMBER one 2
        SRANDMEMBER one -1
        SADD strs a b c
        SRANDMEMBER strs 3 ~unordered
        SRANDMEMBER strs 100 ~unordered
        SRANDMEMBER s x
        SRANDMEMBER s 1.5
        SRANDMEMBER s ""
        SRANDMEMBER s -0
        SRANDMEMBER s " 1"
        SRANDMEMBER s 1 2
        SRANDMEMBER s 1 WITHVALUES
        SRANDMEMBER nokey 1 2
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER nokey -9223372036854775808
        SRANDMEMBER s 9223372036854775808
        SRANDMEMBER nokey x
        SRANDMEMBER
      `, "srandmember"),
      ...bigSet("big", 1500),
      ...script(`
        SRANDMEMBER big ~type
        SRANDMEMBER big 10 ~type
        SRANDMEMBER big 600 ~type
        SRANDMEMBER big -10 ~type
        SRANDMEMBER big 1499 ~type
        SRANDMEMBER big 1500 ~unordered
        SRANDMEMBER big 5000 ~unordered
      `, "srandmember-big"),
    ]));

  it("SPOP", () =>
    runDifferential("set-spop", script(`
      SADD s 1 2 3 4 5
      SPOP s ~type
      SCARD s
      SPOP s 2 ~type
      SCARD s
      SPOP s 0
      SPOP s 100 ~type
      EXISTS s
      SPOP s
      SPOP s 3
      SPOP s 0
      SPOP nokey
      SPOP nokey 3
      SPOP nokey 0
      SADD t 30 10 20
      SPOP t 3
      EXISTS t
      SADD t 30 10 20
      SPOP t 9223372036854775807
      SADD u a
      SPOP u
      EXISTS u
      SADD u a
      SPOP u 1
      EXISTS u
      SADD v x y z
      SPOP v 5 ~unordered
      SADD w 1 2 3
      SPOP w -1
      SPOP w x
      SPOP w 1.5
      SPOP w ""
      SPOP w -0
      SPOP w 9223372036854775808
      SPOP w -9223372036854775808
      SPOP w 1 2
      SPOP nokey 1 2
      SPOP nokey -1
      SPOP nokey x
      SPOP
      SCARD w
    `, "spop")));

  it("SMOVE", () =>
    runDifferential("set-smove", script(`
      SADD a 1 2 3
      SADD b 3 4
      SMOVE a b 1
      SMEMBERS a
      SMEMBERS b
      SMOVE a b 3
      SMEMBERS a
      SMEMBERS b
      SMOVE a b 99
      SMOVE nokey b 1
      SMOVE a newkey 2
      EXISTS a
      SMEMBERS newkey
      SMOVE b b 4
      SMOVE b b 99
      SMOVE nokey nokey x
      SET str v
      SMOVE nokey str x
      SMOVE str b x
      SMOVE b str 4
      SMEMBERS b
      SMOVE b str 99
      SADD c x
      SMOVE c d x
      EXISTS c
      SMEMBERS d
      SMOVE d c
      SMOVE d c x y
      SMOVE
    `, "smove")));

  it("SINTER, SINTERSTORE, SINTERCARD", () =>
    runDifferential("set-sinter", script(`
      SADD a 1 2 3 4 5
      SADD b 2 3 5 7
      SADD c 5 3 9
      SADD s1 x y z 3
      SADD s2 y z w 3
      SINTER a b
      SINTER a b c
      SINTER a
      SINTER a a
      SINTER a nokey
      SINTER nokey a
      SINTER s1 s2 ~unordered
      SINTER s1 s2 a
      SINTER a s1
      SINTER b c a b
      SINTER
      SINTERSTORE dst a b
      SMEMBERS dst
      SINTERSTORE dst a b c
      SMEMBERS dst
      SINTERSTORE dst a nokey
      EXISTS dst
      SINTERSTORE dst a nokey
      SINTERSTORE dst s1 s2
      SMEMBERS dst ~unordered
      SINTERSTORE a a b
      SMEMBERS a
      SET str v
      EXPIRE str 100
      SINTERSTORE str b c
      TYPE str
      TTL str
      SMEMBERS str
      SET str2 v
      SINTERSTORE str2 a s2 nokey
      EXISTS str2
      SINTERSTORE dst
      SINTERSTORE dst2 str nokey
      SINTERCARD 2 a b
      SINTERCARD 1 a
      SINTERCARD 3 a b c
      SINTERCARD 2 s1 s2
      SINTERCARD 2 s1 s2 LIMIT 1
      SINTERCARD 2 s1 s2 LIMIT 0
      SINTERCARD 2 s1 s2 limit 100
      SINTERCARD 2 s1 s2 LIMIT 5 LIMIT 1
      SINTERCARD 2 a nokey
      SINTERCARD 1 nokey
      SINTERCARD 0 a
      SINTERCARD -1 a
      SINTERCARD x a
      SINTERCARD 9223372036854775808 a
      SINTERCARD 3 a b
      SINTERCARD 1 a LIMIT -1
      SINTERCARD 1 a LIMIT x
      SINTERCARD 1 a LIMIT
      SINTERCARD 1 a b
      SINTERCARD 1 a LIMIT 1 extra
      SINTERCARD 1 nokey LIMIT -1
      SINTERCARD 2 a notaset
      SET notaset v
      SINTERCARD 2 a notaset
      SINTERCARD 2 nokey notaset
      SINTERCARD 1
      SINTERCARD
    `, "sinter")));

  it("SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE", () =>
    runDifferential("set-sunion-sdiff", script(`
      SADD a 1 2 3
      SADD b 3 4 5
      SADD c 5 6 -1
      SADD s1 x y
      SADD s2 y z
      SUNION a b
      SUNION a b c
      SUNION a nokey
      SUNION nokey
      SUNION a a
      SUNION s1 s2 ~unordered
      SUNION a s1 ~unordered
      SUNION
      SDIFF a b
      SDIFF a b c
      SDIFF b a
      SDIFF a nokey
      SDIFF nokey a
      SDIFF a a
      SDIFF a b a
      SDIFF a
      SDIFF s1 s2
      SDIFF s2 s1
      SDIFF s1 a ~unordered
      SDIFF
      SUNIONSTORE u a b
      SMEMBERS u
      SUNIONSTORE u u c
      SMEMBERS u
      SUNIONSTORE u nokey
      EXISTS u
      SUNIONSTORE u nokey
      SUNIONSTORE u s1 s2
      SMEMBERS u ~unordered
      SDIFFSTORE d a b
      SMEMBERS d
      SDIFFSTORE d a a
      EXISTS d
      SDIFFSTORE d nokey a
      SDIFFSTORE d s1 s2
      SMEMBERS d
      SDIFFSTORE a a c
      SMEMBERS a
      SET str v
      PEXPIRE str 100000
      SUNIONSTORE str a
      TYPE str
      TTL str
      HSET h f v
      SDIFFSTORE h b
      TYPE h
      SMEMBERS h
      SET str2 v
      SDIFFSTORE str2 a a
      EXISTS str2
      SUNION a str
      SUNION a h
      SET notaset v
      SUNION a notaset
      SUNION nokey notaset
      SDIFF notaset a
      SDIFF a notaset
      SDIFF nokey notaset
      SUNIONSTORE dst a notaset
      SDIFFSTORE dst nokey notaset
      EXISTS dst
      SUNIONSTORE dst
      SDIFFSTORE dst
    `, "sunion-sdiff")));

  it("set algebra on larger sets", () =>
    runDifferential("set-algebra-big", [
      ...bigSet("x", 700),
      ...bigSet("y", 400, (i) => `m${String(i * 2).padStart(4, "0")}`),
      ...bigSet("z", 300, (i) => String(i)),
      ...bigSet("w", 200, (i) => String(i * 3)),
      ...script(`
        SINTER x y ~unordered
        SINTERCARD 2 x y
        SINTERCARD 2 x y LIMIT 50
        SINTERSTORE xy x y
        SCARD xy
        SUNION x y ~unordered
        SUNIONSTORE xuy x y
        SCARD xuy
        SDIFF x y ~unordered
        SDIFFSTORE xdy x y
        SCARD xdy
        SDIFF y x ~unordered
        SINTER z w
        SUNION z w
        SDIFF z w
        SDIFF w z
        SUNIONSTORE zw z w
        OBJECT ENCODING zw
        SCARD zw
        SINTERSTORE zw2 z w
        OBJECT ENCODING zw2
        SMEMBERS zw2
      `, "algebra-big"),
    ]));

  it("SSCAN", () =>
    runDifferential("set-sscan", [
      ...script(`
        SADD ints 5 1 3 10 100 11
        SSCAN ints 0
        SSCAN ints 0 COUNT 1
        SSCAN ints 7 COUNT 2
        SSCAN ints 0 MATCH 1*
        SSCAN ints 0 MATCH *
        SSCAN ints 0 MATCH ?
        SSCAN ints 0 match nomatch count 100
        SSCAN ints 0 COUNT 5 MATCH 1 COUNT 3 MATCH 5
        SADD strs foo bar baz
        SSCAN strs 0 MATCH f*
        SSCAN strs 0 MATCH ba[r]
        SSCAN strs 0 MATCH nomatch
        SSCAN nokey 0
        SSCAN nokey 0 BOGUS
        SSCAN nokey x
        SSCAN ints ""
        SSCAN ints -1
        SSCAN ints +5
        SSCAN ints 18446744073709551615
        SSCAN ints 18446744073709551616
        SSCAN ints " 0"
        SSCAN ints "0 "
        SSCAN ints x
        SSCAN ints 0 COUNT 0
        SSCAN ints 0 COUNT -1
        SSCAN ints 0 COUNT x
        SSCAN ints 0 COUNT
        SSCAN ints 0 MATCH
        SSCAN ints 0 TYPE set
        SSCAN ints 0 NOVALUES
        SSCAN ints 0 COUNT 9223372036854775807
        SSCAN ints 0 COUNT 9223372036854775808
        SSCAN ints
        SSCAN
      `, "sscan"),
      ...bigSet("big", 600),
      ...script(`
        SSCAN big 0 ~type
        SSCAN big 0 COUNT 50 ~type
        SSCAN big 0 MATCH m01* COUNT 1000 ~type
        SSCAN big 0 COUNT 0
        SSCAN big x
      `, "sscan-big"),
    ]));

  it("WRONGTYPE: set commands on a string, string commands on a set", () =>
    runDifferential("set-wrongtype", script(`
      SET str x
      SADD s a
      SADD str a
      SREM str a
      SCARD str
      SISMEMBER str a
      SMISMEMBER str a b
      SMEMBERS str
      SRANDMEMBER str
      SRANDMEMBER str 3
      SRANDMEMBER str 0
      SRANDMEMBER str -3
      SRANDMEMBER str x
      SPOP str
      SPOP str 2
      SPOP str 0
      SPOP str x
      SMOVE str s a
      SMOVE s str a
      SINTER str
      SINTER s str
      SINTER nokey str
      SINTERSTORE dst str
      SINTERCARD 1 str
      SUNION str
      SUNIONSTORE dst s str
      SDIFF str s
      SDIFFSTORE dst str
      SSCAN str 0
      SSCAN str 0 BOGUS
      SSCAN str x
      GET s
      TYPE s
      OBJECT ENCODING s
      SADD str
    `, "wrongtype")));
});
