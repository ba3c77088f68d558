/**
 * Sorted-set commands against redis-server 7.0, in RESP2 and RESP3, byte for
 * byte: every command and option, their errors, score formatting, and a
 * seeded randomized workload compared reply by reply.
 *
 * Random replies (ZRANDMEMBER picks, ZSCAN of large sets) are compared by
 * type only, or in any order where the content is determined. Blocking
 * commands are exercised where they do not block (data present, or inside
 * MULTI where Redis answers at once).
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const script = (text: string, origin: string): Step[] => parseScript(text, origin);

/** ZADD key 0 m000 1 m001 ... (n members, scores i * step). */
function bigZset(key: string, n: number, step = 1): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < n; start += 100) {
    const cmd = ["ZADD", key];
    for (let i = start; i < Math.min(n, start + 100); i++) cmd.push(String(i * step), `m${String(i).padStart(4, "0")}`);
    steps.push({ cmd });
  }
  return steps;
}

describe("sorted-set commands, differential", () => {
  useDifferentialServers();

  it("ZADD and its options", () =>
    runDifferential("zset-zadd", script(`
      ZADD z 1 a
      ZADD z 2 b 3 c 1 a
      ZADD z 5 a 5 a 6 a
      ZRANGE z 0 -1 WITHSCORES
      ZADD z NX 10 a 10 d
      ZADD z XX 20 a 20 e
      ZADD z XX CH 21 a 21 e
      ZADD z CH 21 a 22 b 1 f
      ZADD z GT 1 a 30 b
      ZADD z GT CH 1 a 31 b 2 g
      ZADD z LT CH 100 a 0 b 3 h
      ZADD z XX GT CH 0 a 50 a
      ZADD z XX LT CH 100 c 1 c
      ZADD z gt xx ch 200 c
      ZRANGE z 0 -1 WITHSCORES
      ZADD z NX XX 1 a
      ZADD z XX NX 1 a
      ZADD z GT LT 1 a
      ZADD z GT NX 1 a
      ZADD z LT NX 1 a
      ZADD z NX XX GT 1 a
      ZADD z INCR 1 a 2 b
      ZADD z INCR NX XX 1 a 2 b
      ZADD z
      ZADD z 1
      ZADD z 1 a 2
      ZADD z NX
      ZADD z NX 1
      ZADD z CH CH
      ZADD z x a
      ZADD z 1 a x b
      ZADD z nan a
      ZADD z NaN a
      ZADD z 1 a nan b
      ZADD z "" a
      ZADD z " 1" a
      ZADD z "1 " a
      ZADD z 1e a
      ZADD z 1.5.5 a
      ZADD z 0x10 hex
      ZADD z 1e400 big
      ZADD z 1e-400 small
      ZADD z 4.9e-324 tiny
      ZSCORE z hex
      ZSCORE z tiny
      ZADD z inf pinf -inf ninf +inf pinf2 -INFINITY ninf2 Infinity pinf3
      ZRANGE z 0 -1 WITHSCORES
      ZCARD z
      ZADD z 1 a NX 2 b
      ZADD z NX NX 1 nx1
      ZADD z CH 1
      ZADD newkey XX 1 a
      EXISTS newkey
      ZADD newkey XX INCR 1 a
      EXISTS newkey
      ZADD newkey GT 5 a
      ZADD newkey LT 3 b
      ZRANGE newkey 0 -1 WITHSCORES
      ZADD dup 1 x 2 x 3 x
      ZADD dup CH 3 x 4 x 4 x
      ZSCORE dup x
      ZADD bin 0 "\\x00" 0 "\\xff" 0 "" 0 "\\x00\\x00" 0 "a\\x00b"
      ZRANGE bin 0 -1
      ZSCORE bin ""
    `, "zadd")));

  it("ZADD INCR and ZINCRBY", () =>
    runDifferential("zset-incr", script(`
      ZADD z INCR 1 a
      ZADD z INCR 1.5 a
      ZADD z INCR -0.25 a
      ZINCRBY z 10 a
      ZINCRBY z -10 a
      ZINCRBY z 0 a
      ZINCRBY z 0.1 b
      ZINCRBY z 0.2 b
      ZINCRBY z 1e308 c
      ZINCRBY z 1e308 c
      ZSCORE z c
      ZINCRBY z inf d
      ZINCRBY z inf d
      ZINCRBY z -inf d
      ZSCORE z d
      ZADD z INCR -inf d
      ZINCRBY z nan d
      ZINCRBY z x d
      ZINCRBY z "" d
      ZINCRBY nokey 5 a
      ZINCRBY z 1
      ZINCRBY z 1 a b
      ZINCRBY z NX a
      ZINCRBY z incr a
      ZADD z NX INCR 5 a
      ZADD z XX INCR 5 a
      ZADD z XX INCR 5 newmember
      ZADD z NX INCR 5 newmember
      ZADD z GT INCR -1 a
      ZADD z GT INCR 1 a
      ZADD z LT INCR 1 a
      ZADD z LT INCR -1 a
      ZADD z LT XX INCR -1 a
      ZADD z CH INCR 1 a
      ZINCRBY z -0 e
      ZSCORE z e
      ZINCRBY z -0 e
      ZADD z -0 f
      ZSCORE z f
      ZADD z 5 g
      ZINCRBY z -5 g
      ZRANGE z 0 -1 WITHSCORES
    `, "incr")));

  it("score formatting", () =>
    runDifferential("zset-scores", script(`
      ZADD z 1.1 a 3.0 b 1e20 c -0 d 0.1 e 1e-5 f 123456789012345678 g -1.5e-300 h 2.5 i 1e16 j 1e17 k 100 l
      ZADD z 0.30000000000000004 m 1e15 n 12345.678 o -3 p 9007199254740993 q 5e-324 r 1.7976931348623157e308 s
      ZSCORE z a
      ZSCORE z b
      ZSCORE z c
      ZSCORE z d
      ZMSCORE z a b c d e f g h i j k l m n o p q r s nosuch
      ZRANGE z 0 -1 WITHSCORES
      ZRANGEBYSCORE z -inf +inf WITHSCORES
      ZINCRBY z 0.1 e
      ZSCAN z 0
    `, "scores")));

  it("ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK", () =>
    runDifferential("zset-read", script(`
      ZADD z 1 a 2 b 3 c 3 d -inf e inf f
      ZCARD z
      ZCARD nokey
      ZSCORE z c
      ZSCORE z nosuch
      ZSCORE nokey a
      ZMSCORE z a nosuch f e
      ZMSCORE nokey a b
      ZRANK z e
      ZRANK z a
      ZRANK z d
      ZRANK z f
      ZRANK z nosuch
      ZRANK nokey a
      ZREVRANK z e
      ZREVRANK z f
      ZREVRANK z c
      ZREVRANK z nosuch
      ZRANK z a WITHSCORE
      ZREVRANK z a WITHSCORE
      ZRANK z
      ZCARD z extra
      ZSCORE z
      ZSCORE z a b
      ZMSCORE z
      SET str x
      ZCARD str
      ZSCORE str a
      ZMSCORE str a
      ZRANK str a
      ZREVRANK str a
    `, "read")));

  it("ZCOUNT and ZLEXCOUNT", () =>
    runDifferential("zset-count", script(`
      ZADD z 1 a 2 b 3 c 4 d 5 e -inf ninf inf pinf
      ZCOUNT z -inf +inf
      ZCOUNT z 2 4
      ZCOUNT z (2 4
      ZCOUNT z 2 (4
      ZCOUNT z (2 (4
      ZCOUNT z (2 (2
      ZCOUNT z 2 2
      ZCOUNT z 4 2
      ZCOUNT z (-inf (inf
      ZCOUNT z -inf -inf
      ZCOUNT z "" ""
      ZCOUNT z "(" 5
      ZCOUNT z " 2" 4
      ZCOUNT z 2 "4 "
      ZCOUNT z 1e999 inf
      ZCOUNT z 0x2 0x4
      ZCOUNT z nan 1
      ZCOUNT z 1 nan
      ZCOUNT z (nan 1
      ZCOUNT z x 1
      ZCOUNT z [1 2
      ZCOUNT nokey 1 2
      ZCOUNT nokey x 2
      ZADD l 0 a 0 b 0 c 0 d 0 e 0 f
      ZLEXCOUNT l - +
      ZLEXCOUNT l [b [d
      ZLEXCOUNT l (b [d
      ZLEXCOUNT l [b (d
      ZLEXCOUNT l (b (d
      ZLEXCOUNT l (b (b
      ZLEXCOUNT l [b [b
      ZLEXCOUNT l [d [b
      ZLEXCOUNT l - [c
      ZLEXCOUNT l [c +
      ZLEXCOUNT l + -
      ZLEXCOUNT l - -
      ZLEXCOUNT l + +
      ZLEXCOUNT l [ +
      ZLEXCOUNT l ( +
      ZLEXCOUNT l [aa (e
      ZLEXCOUNT l b d
      ZLEXCOUNT l [b d
      ZLEXCOUNT l -a +
      ZLEXCOUNT l - +b
      ZLEXCOUNT l "" +
      ZLEXCOUNT nokey - +
      ZLEXCOUNT nokey x y
      ZADD mixed 1 a 2 b 3 c 1 d 5 e 0 f
      ZLEXCOUNT mixed - +
      ZLEXCOUNT mixed [b [d
      ZLEXCOUNT mixed [c +
      ZLEXCOUNT mixed - (c
      SET str x
      ZCOUNT str 1 2
      ZLEXCOUNT str - +
      ZCOUNT z 1
      ZLEXCOUNT z -
    `, "count")));

  it("ZRANGE by rank, ZREVRANGE", () =>
    runDifferential("zset-range-rank", script(`
      ZADD z 1 a 2 b 3 c 4 d 5 e 5 e2 5 e1
      ZRANGE z 0 -1
      ZRANGE z 0 -1 WITHSCORES
      ZRANGE z 0 -1 withscores withscores
      ZRANGE z 2 4
      ZRANGE z -3 -1
      ZRANGE z -100 100
      ZRANGE z 5 2
      ZRANGE z 7 10
      ZRANGE z -1 -3
      ZRANGE z 0 0
      ZRANGE z -1 -1 WITHSCORES
      ZRANGE z 0 -8
      ZRANGE z 0 -7
      ZRANGE z 0 9223372036854775807
      ZRANGE z -9223372036854775808 9223372036854775807
      ZRANGE z 0 9223372036854775808
      ZRANGE z 0 -1 REV
      ZRANGE z 0 1 REV WITHSCORES
      ZRANGE z 2 4 REV
      ZRANGE z -2 -1 REV
      ZRANGE z 0 -1 LIMIT 0 1
      ZRANGE z 0 -1 LIMIT 0 -1
      ZRANGE z 0 -1 LIMIT 1 -1
      ZRANGE z 0 -1 LIMIT x 1
      ZRANGE z 0 -1 LIMIT 0
      ZRANGE z 0 -1 REV REV
      ZRANGE z 0 -1 BYSCORE BYLEX
      ZRANGE z 0 -1 BYSCORE BYSCORE
      ZRANGE z 0 -1 foo
      ZRANGE z a 1
      ZRANGE z 0 1.5
      ZRANGE nokey 0 -1
      ZRANGE nokey 0 -1 WITHSCORES
      ZRANGE nokey a b
      ZREVRANGE z 0 -1
      ZREVRANGE z 0 -1 WITHSCORES
      ZREVRANGE z 1 2
      ZREVRANGE z -2 -1 WITHSCORES
      ZREVRANGE z 5 1
      ZREVRANGE z 0 -1 REV
      ZREVRANGE z 0 -1 BYSCORE
      ZREVRANGE z 0 -1 LIMIT 0 1
      ZREVRANGE z 0 -1 LIMIT 0 -1
      ZREVRANGE nokey 0 -1
      ZRANGE z 0
      ZREVRANGE z 0
      SET str x
      ZRANGE str 0 -1
      ZREVRANGE str 0 -1
      ZRANGE str a b
    `, "rank")));

  it("ZRANGE BYSCORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE", () =>
    runDifferential("zset-range-score", script(`
      ZADD z -inf ninf 1 a 2 b 2 bb 3 c 4 d 5 e inf pinf
      ZRANGE z -inf +inf BYSCORE
      ZRANGE z -inf +inf BYSCORE WITHSCORES
      ZRANGE z 2 4 BYSCORE
      ZRANGE z (2 4 BYSCORE
      ZRANGE z 2 (4 BYSCORE WITHSCORES
      ZRANGE z (2 (2 BYSCORE
      ZRANGE z 4 2 BYSCORE
      ZRANGE z 4 2 BYSCORE REV
      ZRANGE z +inf -inf BYSCORE REV WITHSCORES
      ZRANGE z (4 2 BYSCORE REV
      ZRANGE z -inf +inf BYSCORE LIMIT 2 3
      ZRANGE z -inf +inf BYSCORE LIMIT 2 -1
      ZRANGE z -inf +inf BYSCORE LIMIT 2 0
      ZRANGE z -inf +inf BYSCORE LIMIT -1 3
      ZRANGE z -inf +inf BYSCORE LIMIT 9 3
      ZRANGE z -inf +inf BYSCORE LIMIT 8 3
      ZRANGE z -inf +inf BYSCORE LIMIT 0 3 LIMIT 1 1
      ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES
      ZRANGE z 1 1 BYSCORE
      ZRANGE z inf inf BYSCORE
      ZRANGE z -inf -inf BYSCORE WITHSCORES
      ZRANGE z x 1 BYSCORE
      ZRANGE z 1 nan BYSCORE
      ZRANGE z "" "" BYSCORE
      ZRANGE z " 2" 2 BYSCORE
      ZRANGE z 1e999 inf BYSCORE
      ZRANGE z -1e999 1 BYSCORE
      ZRANGE z 0x1 0x3 BYSCORE
      ZRANGEBYSCORE z -inf +inf
      ZRANGEBYSCORE z -inf +inf WITHSCORES
      ZRANGEBYSCORE z 2 4 LIMIT 1 2
      ZRANGEBYSCORE z 2 4 LIMIT 1 2 WITHSCORES
      ZRANGEBYSCORE z 2 4 WITHSCORES LIMIT 0 -5
      ZRANGEBYSCORE z 2 4 LIMIT -2 5
      ZRANGEBYSCORE z 4 2
      ZRANGEBYSCORE z (1 (5
      ZRANGEBYSCORE z 2 4 REV
      ZRANGEBYSCORE z 2 4 BYSCORE
      ZRANGEBYSCORE z 2 4 LIMIT 1
      ZRANGEBYSCORE z 2 4 LIMIT a 1
      ZRANGEBYSCORE z 2 4 LIMIT 1 a
      ZRANGEBYSCORE z 2
      ZRANGEBYSCORE z a b
      ZRANGEBYSCORE nokey 1 2
      ZRANGEBYSCORE nokey a b
      ZREVRANGEBYSCORE z +inf -inf
      ZREVRANGEBYSCORE z 4 2 WITHSCORES
      ZREVRANGEBYSCORE z 2 4
      ZREVRANGEBYSCORE z (4 (2
      ZREVRANGEBYSCORE z 4 2 LIMIT 1 1
      ZREVRANGEBYSCORE z +inf -inf LIMIT 0 -1 WITHSCORES
      ZREVRANGEBYSCORE z 4 2 REV
      ZREVRANGEBYSCORE z x 2
      SET str x
      ZRANGEBYSCORE str 1 2
      ZREVRANGEBYSCORE str 1 2
      ZRANGE str 1 2 BYSCORE
    `, "score")));

  it("ZRANGE BYLEX, ZRANGEBYLEX, ZREVRANGEBYLEX", () =>
    runDifferential("zset-range-lex", script(`
      ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 "" 0 "\\x00" 0 "\\xff"
      ZRANGE l - + BYLEX
      ZRANGE l [b [d BYLEX
      ZRANGE l (b (d BYLEX
      ZRANGE l [b (d BYLEX
      ZRANGE l (b [d BYLEX
      ZRANGE l [d [b BYLEX
      ZRANGE l [d [b BYLEX REV
      ZRANGE l + - BYLEX REV
      ZRANGE l [f (c BYLEX REV
      ZRANGE l - + BYLEX LIMIT 2 3
      ZRANGE l - + BYLEX LIMIT 2 -1
      ZRANGE l - + BYLEX LIMIT -1 3
      ZRANGE l - + BYLEX LIMIT 20 3
      ZRANGE l + - BYLEX REV LIMIT 1 2
      ZRANGE l - + BYLEX WITHSCORES
      ZRANGE l [ + BYLEX
      ZRANGE l ( + BYLEX
      ZRANGE l - [ BYLEX
      ZRANGE l - ( BYLEX
      ZRANGE l "[\\x00" "[\\xff" BYLEX
      ZRANGE l a + BYLEX
      ZRANGE l - b BYLEX
      ZRANGE l +a - BYLEX
      ZRANGE l -- + BYLEX
      ZRANGE l "" + BYLEX
      ZRANGEBYLEX l - +
      ZRANGEBYLEX l [aa (f
      ZRANGEBYLEX l [c +
      ZRANGEBYLEX l - [c LIMIT 1 10
      ZRANGEBYLEX l - + LIMIT 0 0
      ZRANGEBYLEX l - + WITHSCORES
      ZRANGEBYLEX l - + REV
      ZRANGEBYLEX l - + BYLEX
      ZRANGEBYLEX l + -
      ZRANGEBYLEX l - -
      ZRANGEBYLEX l + +
      ZRANGEBYLEX l x y
      ZRANGEBYLEX l -
      ZRANGEBYLEX nokey - +
      ZRANGEBYLEX nokey x y
      ZREVRANGEBYLEX l + -
      ZREVRANGEBYLEX l [d [b
      ZREVRANGEBYLEX l [b [d
      ZREVRANGEBYLEX l (e - LIMIT 1 2
      ZREVRANGEBYLEX l + - LIMIT 0 -1
      ZREVRANGEBYLEX l + - WITHSCORES
      ZREVRANGEBYLEX l x -
      ZADD mixed 1 a 2 b 3 c 1 d 5 e 0 f 2 g
      ZRANGEBYLEX mixed - +
      ZRANGEBYLEX mixed [b [e
      ZRANGEBYLEX mixed [c +
      ZRANGEBYLEX mixed - (c
      ZRANGEBYLEX mixed [a [a
      ZRANGEBYLEX mixed [d +
      ZRANGEBYLEX mixed [b + LIMIT 1 2
      ZREVRANGEBYLEX mixed + -
      ZREVRANGEBYLEX mixed [e [b
      ZREVRANGEBYLEX mixed (d -
      ZREVRANGEBYLEX mixed [c - LIMIT 1 1
      ZLEXCOUNT mixed [b [e
      SET str x
      ZRANGEBYLEX str - +
      ZREVRANGEBYLEX str + -
      ZRANGE str - + BYLEX
    `, "lex")));

  it("ZRANGESTORE", () =>
    runDifferential("zset-rangestore", script(`
      ZADD src 1 a 2 b 3 c 4 d 5 e
      ZRANGESTORE dst src 0 -1
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src 1 2
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src 0 1 REV
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src 2 4 BYSCORE
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src 4 2 BYSCORE REV LIMIT 1 5
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src [b [d BYLEX
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src (d - BYLEX REV
      ZRANGE dst 0 -1 WITHSCORES
      ZRANGESTORE dst src 10 20
      EXISTS dst
      ZRANGESTORE dst src 10 20
      SET dst x
      EXPIRE dst 1000
      ZRANGESTORE dst src 0 0
      TYPE dst
      TTL dst
      ZRANGESTORE dst nosrc 0 -1
      EXISTS dst
      ZRANGESTORE src src 1 3
      ZRANGE src 0 -1 WITHSCORES
      ZRANGESTORE src src 10 20
      EXISTS src
      ZADD src 1 a 2 b
      ZRANGESTORE dst src 0 -1 WITHSCORES
      ZRANGESTORE dst src 0 -1 LIMIT 0 1
      ZRANGESTORE dst src 0 -1 BYLEX
      ZRANGESTORE dst src a b
      ZRANGESTORE dst src 0
      SET str x
      ZRANGESTORE dst str 0 -1
      ZRANGESTORE str src 0 -1
      TYPE str
    `, "rangestore")));

  it("ZREM and ZREMRANGEBY*", () =>
    runDifferential("zset-rem", script(`
      ZADD z 1 a 2 b 3 c 4 d 5 e
      ZREM z a
      ZREM z a
      ZREM z nosuch b nosuch c
      ZREM nokey a
      ZRANGE z 0 -1
      ZREM z d e e
      EXISTS z
      ZREM z
      ZADD r 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h
      ZREMRANGEBYRANK r 0 0
      ZREMRANGEBYRANK r -1 -1
      ZREMRANGEBYRANK r 1 2
      ZRANGE r 0 -1
      ZREMRANGEBYRANK r 5 10
      ZREMRANGEBYRANK r 3 1
      ZREMRANGEBYRANK r -100 -4
      ZREMRANGEBYRANK r x 1
      ZREMRANGEBYRANK r 1 1.5
      ZRANGE r 0 -1
      ZREMRANGEBYRANK r 0 -1
      EXISTS r
      ZREMRANGEBYRANK nokey 0 -1
      ZADD s 1 a 2 b 3 c 4 d 5 e -inf n inf p
      ZREMRANGEBYSCORE s (1 2
      ZREMRANGEBYSCORE s 4 2
      ZREMRANGEBYSCORE s 3 (4
      ZREMRANGEBYSCORE s -inf -inf
      ZREMRANGEBYSCORE s x 1
      ZREMRANGEBYSCORE s 1 nan
      ZRANGE s 0 -1 WITHSCORES
      ZREMRANGEBYSCORE s -inf +inf
      EXISTS s
      ZREMRANGEBYSCORE nokey 1 2
      ZADD l 0 a 0 b 0 c 0 d 0 e 0 f
      ZREMRANGEBYLEX l [b (d
      ZREMRANGEBYLEX l (e +
      ZREMRANGEBYLEX l [z [a
      ZREMRANGEBYLEX l x y
      ZREMRANGEBYLEX l - [a
      ZRANGE l 0 -1
      ZREMRANGEBYLEX l - +
      EXISTS l
      ZREMRANGEBYLEX nokey - +
      ZADD mixed 1 a 2 b 3 c 1 d 5 e 0 f 2 g
      ZREMRANGEBYLEX mixed [b [e
      ZRANGE mixed 0 -1 WITHSCORES
      ZREMRANGEBYLEX mixed - (c
      ZRANGE mixed 0 -1 WITHSCORES
      SET str x
      ZREM str a
      ZREMRANGEBYRANK str 0 1
      ZREMRANGEBYSCORE str 0 1
      ZREMRANGEBYLEX str - +
      ZREMRANGEBYRANK z 0
      ZREMRANGEBYSCORE z 0 1 2
    `, "rem")));

  it("ZPOPMIN, ZPOPMAX, ZMPOP, and blocking pops that find data", () =>
    runDifferential("zset-pop", script(`
      ZADD z 1 a 2 b 3 c 4 d 5 e 5 f
      ZPOPMIN z
      ZPOPMAX z
      ZPOPMIN z 2
      ZPOPMAX z 1
      ZPOPMIN z 0
      ZPOPMIN z 100
      EXISTS z
      ZPOPMIN z
      ZPOPMAX z 3
      ZPOPMIN nokey 0
      ZADD z 1 a
      ZPOPMIN z -1
      ZPOPMIN z x
      ZPOPMIN z 1 2
      ZPOPMAX z 1.5
      ZPOPMIN z 9223372036854775807
      ZADD m1 1 a 2 b 3 c
      ZADD m2 10 x 20 y
      ZMPOP 1 m1 MIN
      ZMPOP 2 nokey m1 MAX
      ZMPOP 2 m1 m2 MIN COUNT 10
      ZMPOP 2 m1 m2 MAX COUNT 1
      ZMPOP 2 m1 m2 max count 5
      ZMPOP 2 m1 m2 MIN
      ZMPOP 0 m1 MIN
      ZMPOP -1 m1 MIN
      ZMPOP x m1 MIN
      ZMPOP 1 m1
      ZMPOP 2 m1 MIN
      ZMPOP 1 m1 MID
      ZMPOP 1 m1 MIN COUNT
      ZMPOP 1 m1 MIN COUNT 0
      ZMPOP 1 m1 MIN COUNT -1
      ZMPOP 1 m1 MIN COUNT x
      ZMPOP 1 m1 MIN COUNT 1 COUNT 1
      ZMPOP 1 m1 MIN FOO 1
      ZMPOP 9223372036854775807 m1 MIN
      ZMPOP 1
      ZADD b1 1 a 2 b 3 c
      ZADD b2 7 x
      BZPOPMIN nokey b1 0
      BZPOPMAX nokey b1 0
      BZPOPMAX b2 b1 0.5
      BZPOPMIN b2 b1 1
      BZPOPMIN b1 x
      BZPOPMIN b1 -1
      BZPOPMIN b1 inf
      BZPOPMIN b1 1e400
      BZPOPMIN b1 ""
      BZPOPMIN b1
      ZADD b1 1 a 2 b 3 c 4 d
      BZMPOP 0 1 b1 MIN
      BZMPOP 0 2 nokey b1 MAX COUNT 2
      BZMPOP 0 2 nokey b1 MAX COUNT 5
      BZMPOP x 1 b1 MIN
      BZMPOP -1 1 b1 MIN
      BZMPOP 0 0 b1 MIN
      BZMPOP 0 1 b1 FOO
      BZMPOP 0 1 b1
      BZMPOP 0 x b1 MIN
      ZADD b3 1 a
      BZMPOP 0 1 b3 MIN COUNT 0
      BZMPOP x 1 b3 MIN COUNT 0
      MULTI
      BZPOPMIN nokey 0
      BZPOPMAX nokey 0
      BZMPOP 0 1 nokey MIN
      BZPOPMIN b3 0
      EXEC
      SET str x
      ZPOPMIN str
      ZPOPMAX str 0
      ZMPOP 1 str MIN
      ZMPOP 2 nokey str MIN
      BZPOPMIN str 0
      BZPOPMIN nokey str 0
      BZMPOP 0 1 str MIN
    `, "pop")));

  it("ZUNION, ZINTER, ZDIFF, the STORE forms and ZINTERCARD", () =>
    runDifferential("zset-setops", script(`
      ZADD a 1 x 2 y 3 z
      ZADD b 10 y 20 z 30 w
      ZADD c 100 z
      SADD s y z q
      ZUNION 2 a b
      ZUNION 2 a b WITHSCORES
      ZUNION 3 a b c WITHSCORES
      ZUNION 2 a b WEIGHTS 2 3 WITHSCORES
      ZUNION 2 a b WEIGHTS 1 -1 WITHSCORES
      ZUNION 2 a b AGGREGATE MIN WITHSCORES
      ZUNION 2 a b AGGREGATE MAX WITHSCORES
      ZUNION 2 a b AGGREGATE sum WEIGHTS 0 1 WITHSCORES
      ZUNION 2 a b WEIGHTS inf -inf WITHSCORES
      ZUNION 2 a b WEIGHTS 0 0 WITHSCORES
      ZUNION 2 a s WITHSCORES
      ZUNION 2 a nokey WITHSCORES
      ZUNION 1 nokey
      ZUNION 2 a a WITHSCORES
      ZUNION 2 a b WEIGHTS 1
      ZUNION 2 a b WEIGHTS 1 x
      ZUNION 2 a b WEIGHTS 1 nan
      ZUNION 2 a b AGGREGATE avg
      ZUNION 2 a b AGGREGATE
      ZUNION 2 a b WITHSCORES extra
      ZUNION 0 a
      ZUNION -1 a
      ZUNION x a
      ZUNION 3 a b
      ZUNION 2 a b WEIGHTS 1 2 3
      ZUNION 9223372036854775807 a
      ZUNION 9223372036854775808 a
      ZINTERCARD 2 i1 i1
      ZINTER 2 a b
      ZINTER 2 a b WITHSCORES
      ZINTER 3 a b c WITHSCORES
      ZINTER 2 a b WEIGHTS 2 3 WITHSCORES
      ZINTER 2 a b AGGREGATE MIN WITHSCORES
      ZINTER 2 a b AGGREGATE MAX WITHSCORES
      ZINTER 2 a s WITHSCORES
      ZINTER 2 s a WEIGHTS 5 1 WITHSCORES
      ZINTER 2 a nokey
      ZINTER 2 a a WITHSCORES
      ZINTER 0 a
      ZDIFF 2 a b
      ZDIFF 2 a b WITHSCORES
      ZDIFF 2 b a WITHSCORES
      ZDIFF 3 b a c WITHSCORES
      ZDIFF 2 a s WITHSCORES
      ZDIFF 2 s a WITHSCORES
      ZDIFF 1 a WITHSCORES
      ZDIFF 2 nokey a
      ZDIFF 2 a a
      ZDIFF 2 a b WEIGHTS 1 2
      ZDIFF 2 a b AGGREGATE MIN
      ZDIFF 0 a
      ZUNIONSTORE d 2 a b
      ZRANGE d 0 -1 WITHSCORES
      ZUNIONSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX
      ZRANGE d 0 -1 WITHSCORES
      ZUNIONSTORE d 2 a b WITHSCORES
      ZINTERSTORE d 2 a b
      ZRANGE d 0 -1 WITHSCORES
      ZINTERSTORE d 2 a c AGGREGATE MIN
      ZRANGE d 0 -1 WITHSCORES
      ZINTERSTORE d 2 a nokey
      EXISTS d
      ZINTERSTORE d 2 a nokey
      ZDIFFSTORE d 2 b a
      ZRANGE d 0 -1 WITHSCORES
      ZDIFFSTORE d 2 a a
      EXISTS d
      ZDIFFSTORE d 1 nokey
      SET d x
      EXPIRE d 100
      ZUNIONSTORE d 1 a
      TYPE d
      TTL d
      ZUNIONSTORE a 2 a b
      ZRANGE a 0 -1 WITHSCORES
      ZINTERSTORE a 2 a c
      ZRANGE a 0 -1 WITHSCORES
      ZDIFFSTORE b 2 b a
      ZRANGE b 0 -1 WITHSCORES
      ZUNIONSTORE d 0 a
      ZUNIONSTORE d x a
      ZUNIONSTORE d 3 a b
      ZDIFFSTORE d 2 a b WEIGHTS 1 1
      ZADD i1 1 a 2 b 3 c 4 d
      ZADD i2 1 b 1 c 1 d 1 e
      ZINTERCARD 2 i1 i2
      ZINTERCARD 2 i1 i2 LIMIT 0
      ZINTERCARD 2 i1 i2 LIMIT 1
      ZINTERCARD 2 i1 i2 LIMIT 2
      ZINTERCARD 2 i1 i2 LIMIT 100
      ZINTERCARD 2 i1 s
      ZINTERCARD 2 i1 nokey
      ZINTERCARD 1 i1
      ZINTERCARD 2 i1 i2 LIMIT -1
      ZINTERCARD 2 i1 i2 LIMIT x
      ZINTERCARD 2 i1 i2 LIMIT
      ZINTERCARD 2 i1 i2 WITHSCORES
      ZINTERCARD 2 i1 i2 WEIGHTS 1 1
      ZINTERCARD 0 i1
      ZINTERCARD x i1
      ZINTERCARD 3 i1 i2
      SET str x
      ZUNION 2 a str
      ZINTER 2 str nokey
      ZDIFF 2 nokey str
      ZINTERCARD 2 a str
      ZUNIONSTORE d 2 a str
      ZUNION 2 a str WEIGHTS x
      HSET h f v
      ZUNION 2 a h
      ZADD inf1 inf x -inf y 5 z
      ZADD inf2 -inf x inf y -5 z
      ZUNION 2 inf1 inf2 WITHSCORES
      ZINTER 2 inf1 inf2 WITHSCORES
      ZUNION 2 inf1 inf2 AGGREGATE MIN WITHSCORES
      ZUNION 2 inf1 inf2 AGGREGATE MAX WITHSCORES
      ZINTER 2 inf1 inf2 WEIGHTS 0 1 WITHSCORES
      ZINTER 2 inf1 inf2 WEIGHTS 1 0 WITHSCORES
      ZINTER 2 inf1 inf2 WEIGHTS 1 0 AGGREGATE MIN WITHSCORES
      ZINTER 2 inf1 inf2 WEIGHTS 1 0 AGGREGATE MAX WITHSCORES
      ZUNION 2 inf1 inf2 WEIGHTS 0 0 WITHSCORES
      ZUNION 2 inf1 inf2 WEIGHTS -1 1 WITHSCORES
      ZADD f1 0.1 a 0.7 b
      ZADD f2 0.2 a 0.1 b
      ZADD f3 0.3 a 0.2 b 1 c
      ZUNION 3 f1 f2 f3 WITHSCORES
      ZUNION 3 f3 f2 f1 WITHSCORES
      ZINTER 3 f3 f1 f2 WITHSCORES
      ZUNIONSTORE fd 3 f1 f2 f3
      ZRANGE fd 0 -1 WITHSCORES
    `, "setops")));

  it("ZRANDMEMBER", () =>
    runDifferential("zset-zrandmember", [
      ...script(`
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZRANDMEMBER z ~type
        ZRANDMEMBER nokey
        ZRANDMEMBER z 5
        ZRANDMEMBER z 6
        ZRANDMEMBER z 100 WITHSCORES
        ZRANDMEMBER z 5 withscores
        ZRANDMEMBER z 0
        ZRANDMEMBER z 0 WITHSCORES
        ZRANDMEMBER nokey 5
        ZRANDMEMBER nokey -5 WITHSCORES
        ZRANDMEMBER z 1 ~type
        ZRANDMEMBER z 3 ~type
        ZRANDMEMBER z -3 ~type
        ZRANDMEMBER z -20 WITHSCORES ~type
        ZRANDMEMBER z 2 WITHSCORES ~type
        ZADD one 7.5 only
        ZRANDMEMBER one
        ZRANDMEMBER one 1
        ZRANDMEMBER one -3
        ZRANDMEMBER one -3 WITHSCORES
        ZRANDMEMBER one 1 WITHSCORES
        ZRANDMEMBER z x
        ZRANDMEMBER z 1 WITHSCORE
        ZRANDMEMBER z 1 WITHSCORES extra
        ZRANDMEMBER z -9223372036854775808
        ZRANDMEMBER z 9223372036854775808
        ZRANDMEMBER z 9223372036854770000 WITHSCORES
        ZRANDMEMBER z -9223372036854770000 WITHSCORES
        ZRANDMEMBER z 9223372036854775807
        SET str x
        ZRANDMEMBER str
        ZRANDMEMBER str 1
        ZRANDMEMBER
      `, "zrandmember"),
      ...bigZset("big", 300),
      ...script(`
        ZRANDMEMBER big ~type
        ZRANDMEMBER big 10 ~type
        ZRANDMEMBER big 150 WITHSCORES ~type
        ZRANDMEMBER big -10 WITHSCORES ~type
        ZRANDMEMBER big 300
        ZRANDMEMBER big 1000 WITHSCORES
      `, "zrandmember-big"),
    ]));

  it("ZSCAN", () =>
    runDifferential("zset-zscan", [
      ...script(`
        ZADD z 1 a 2 b 3 c 4 foo 5 foobar 1.5 x
        ZSCAN z 0
        ZSCAN z 0 COUNT 1
        ZSCAN z 123 COUNT 2
        ZSCAN z 0 MATCH foo*
        ZSCAN z 0 MATCH *
        ZSCAN z 0 MATCH [ab]
        ZSCAN z 0 match nomatch count 100
        ZSCAN nokey 0
        ZSCAN nokey 0 BOGUS
        ZSCAN nokey x
        ZSCAN z ""
        ZSCAN z -1
        ZSCAN z 18446744073709551616
        ZSCAN z " 0"
        ZSCAN z 0 COUNT 0
        ZSCAN z 0 COUNT -1
        ZSCAN z 0 COUNT x
        ZSCAN z 0 COUNT
        ZSCAN z 0 MATCH
        ZSCAN z 0 BOGUS 1
        SET str x
        ZSCAN str 0
        ZSCAN
      `, "zscan"),
      ...bigZset("big", 200),
      ...script(`
        ZSCAN big 0 ~type
        ZSCAN big 0 COUNT 1000 MATCH m019* ~type
      `, "zscan-big"),
    ]));

  it("OBJECT ENCODING, TYPE, keys deleted when emptied", () =>
    runDifferential("zset-encoding", [
      ...script(`
        ZADD z 1 a
        OBJECT ENCODING z
        TYPE z
        ZADD long 1 "0123456789012345678901234567890123456789012345678901234567890123"
        OBJECT ENCODING long
        ZADD longer 1 "01234567890123456789012345678901234567890123456789012345678901234"
        OBJECT ENCODING longer
        ZREM z a
        EXISTS z
        TYPE z
      `, "encoding"),
      ...bigZset("big", 128),
      { cmd: ["OBJECT", "ENCODING", "big"] },
      { cmd: ["ZADD", "big", "1000", "one-more"] },
      { cmd: ["OBJECT", "ENCODING", "big"] },
      { cmd: ["ZCARD", "big"] },
    ]));

  it("large sets: ranks, ranges and pops at both ends", () =>
    runDifferential("zset-large", [
      ...bigZset("big", 1000, 0.5),
      ...script(`
        ZCARD big
        ZRANGE big 0 4 WITHSCORES
        ZRANGE big -5 -1 WITHSCORES
        ZRANGE big 500 503
        ZRANGE big 0 2 REV WITHSCORES
        ZRANGE big -3 -1 REV
        ZREVRANGE big 997 999
        ZRANK big m0000
        ZRANK big m0999
        ZREVRANK big m0000
        ZRANK big m0500
        ZRANGEBYSCORE big 100 102 WITHSCORES
        ZRANGEBYSCORE big (100 102 LIMIT 1 2
        ZREVRANGEBYSCORE big 102 100
        ZCOUNT big 10 (20
        ZCOUNT big -inf +inf
        ZREMRANGEBYRANK big 0 9
        ZREMRANGEBYRANK big -10 -1
        ZCARD big
        ZRANGE big 0 0
        ZRANGE big -1 -1
        ZPOPMIN big 3
        ZPOPMAX big 3
        ZMPOP 1 big MIN COUNT 2
        ZCARD big
        ZREMRANGEBYSCORE big 200 300
        ZCARD big
      `, "large"),
    ]));

  it("a seeded random workload, reply by reply", () => {
    const steps = randomWorkload(20260101, 4000);
    return runDifferential("zset-random", steps);
  });
});

// ---- the random workload -------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Sorted-set commands over a few keys, a small member alphabet (so members
 * collide), scores with ties, infinities, fractions and signs, and ranges of
 * every kind. Sets stay small enough (<= 128 members of <= 64 bytes) that
 * Redis keeps them as listpacks, whose order tidekv reproduces exactly, so
 * every reply is compared byte for byte.
 */
function randomWorkload(seed: number, count: number): Step[] {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const keys = ["z1", "z2", "z3", "s1", "str"];
  const zkeys = ["z1", "z2", "z3"];
  const members = ["a", "b", "c", "d", "e", "f", "g", "h", "aa", "ab", "ba", "", "\u00e9", "x1", "x2", "x10", "y"];
  const scores = ["0", "1", "2", "-1", "1.5", "-2.5", "3", "10", "inf", "-inf", "0.1", "1e3", "-0", "7", "2"];
  const bounds = () => pick(["-inf", "+inf", "0", "1", "(1", "2", "(2", "-1", "(-inf", "3", "10", "(10", "1.5", "x"]);
  const lex = () => pick(["-", "+", "[a", "(a", "[b", "(c", "[d", "[x", "(x1", "[", "(", "[aa", "a"]);
  const idx = () => String(int(-6, 6));
  const member = () => pick(members);
  const steps: Step[] = [{ cmd: ["SADD", "s1", "a", "b", "c", "q"] }, { cmd: ["SET", "str", "v"] }];
  for (let i = 0; i < count; i++) {
    const k = rand() < 0.9 ? pick(zkeys) : pick(keys);
    const r = rand();
    let cmd: string[];
    if (r < 0.22) {
      const opts = rand() < 0.3 ? [pick(["NX", "XX", "GT", "LT", "CH", "XX CH", "GT CH", "LT XX", "INCR", "NX INCR"])] : [];
      const n = opts.some((o) => o.includes("INCR")) ? 1 : int(1, 4);
      const pairs: string[] = [];
      for (let j = 0; j < n; j++) pairs.push(pick(scores), member());
      cmd = ["ZADD", k, ...opts.flatMap((o) => o.split(" ")), ...pairs];
    } else if (r < 0.28) {
      cmd = ["ZINCRBY", k, pick(scores), member()];
    } else if (r < 0.34) {
      cmd = ["ZREM", k, member(), ...(rand() < 0.5 ? [member()] : [])];
    } else if (r < 0.38) {
      cmd = [pick(["ZSCORE", "ZRANK", "ZREVRANK"]), k, member()];
    } else if (r < 0.40) {
      cmd = ["ZMSCORE", k, member(), member()];
    } else if (r < 0.42) {
      cmd = ["ZCARD", k];
    } else if (r < 0.46) {
      cmd = ["ZCOUNT", k, bounds(), bounds()];
    } else if (r < 0.49) {
      cmd = ["ZLEXCOUNT", k, lex(), lex()];
    } else if (r < 0.60) {
      const kind = pick(["rank", "score", "lex"]);
      const rev = rand() < 0.4;
      const args = kind === "rank" ? [idx(), idx()] : kind === "score" ? [bounds(), bounds()] : [lex(), lex()];
      const extra: string[] = [];
      if (kind === "score") extra.push("BYSCORE");
      if (kind === "lex") extra.push("BYLEX");
      if (rev) extra.push("REV");
      if (kind !== "lex" && rand() < 0.5) extra.push("WITHSCORES");
      if (kind !== "rank" && rand() < 0.4) extra.push("LIMIT", String(int(-1, 4)), String(int(-2, 5)));
      cmd = rand() < 0.15 ? ["ZRANGESTORE", pick(["dst", k]), k, ...args, ...extra.filter((e) => e !== "WITHSCORES")] : ["ZRANGE", k, ...args, ...extra];
    } else if (r < 0.66) {
      const which = pick(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREVRANGE"]);
      const args = which.includes("LEX") ? [lex(), lex()] : which === "ZREVRANGE" ? [idx(), idx()] : [bounds(), bounds()];
      const extra: string[] = [];
      if (!which.includes("LEX") && rand() < 0.5) extra.push("WITHSCORES");
      if (which !== "ZREVRANGE" && rand() < 0.4) extra.push("LIMIT", String(int(-1, 4)), String(int(-2, 5)));
      cmd = [which, k, ...args, ...extra];
    } else if (r < 0.72) {
      const which = pick(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX"]);
      const args = which === "ZREMRANGEBYRANK" ? [idx(), idx()] : which === "ZREMRANGEBYSCORE" ? [bounds(), bounds()] : [lex(), lex()];
      cmd = [which, k, ...args];
    } else if (r < 0.78) {
      const which = pick(["ZPOPMIN", "ZPOPMAX", "ZMPOP", "BZPOPMIN", "BZMPOP"]);
      if (which === "ZMPOP") cmd = ["ZMPOP", "2", k, pick(zkeys), pick(["MIN", "MAX"]), ...(rand() < 0.5 ? ["COUNT", String(int(1, 4))] : [])];
      else if (which === "BZPOPMIN") cmd = ["BZPOPMIN", k, pick(zkeys), "0"];
      else if (which === "BZMPOP") cmd = ["BZMPOP", "0", "2", k, pick(zkeys), "MAX", "COUNT", String(int(1, 3))];
      else cmd = [which, k, ...(rand() < 0.5 ? [String(int(0, 4))] : [])];
      // Blocking pops would block on empty keys: only when some key has data, inside MULTI otherwise.
      if (which.startsWith("B")) {
        steps.push({ cmd: ["MULTI"] }, { cmd });
        cmd = ["EXEC"];
      }
    } else if (r < 0.90) {
      const op = pick(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"]);
      const n = int(1, 3);
      const srcs: string[] = [];
      for (let j = 0; j < n; j++) srcs.push(rand() < 0.85 ? pick(zkeys) : pick(keys));
      const extra: string[] = [];
      if (op !== "ZDIFF" && op !== "ZDIFFSTORE" && op !== "ZINTERCARD") {
        if (rand() < 0.4) extra.push("WEIGHTS", ...srcs.map(() => pick(["1", "2", "-1", "0", "0.5", "inf"])));
        if (rand() < 0.4) extra.push("AGGREGATE", pick(["SUM", "MIN", "MAX"]));
      }
      if (op === "ZINTERCARD" && rand() < 0.5) extra.push("LIMIT", String(int(0, 3)));
      if (!op.endsWith("STORE") && op !== "ZINTERCARD" && rand() < 0.6) extra.push("WITHSCORES");
      cmd = op.endsWith("STORE") ? [op, pick(["dst", ...zkeys]), String(n), ...srcs, ...extra] : [op, String(n), ...srcs, ...extra];
    } else if (r < 0.93) {
      cmd = ["ZRANGE", pick(["dst", ...zkeys]), "0", "-1", "WITHSCORES"];
    } else if (r < 0.96) {
      cmd = ["ZSCAN", k, "0", ...(rand() < 0.5 ? ["MATCH", pick(["a*", "*", "x?", "[ab]*"])] : [])];
    } else {
      cmd = ["ZRANDMEMBER", k, pick(["200", "1000"]), ...(rand() < 0.5 ? ["WITHSCORES"] : [])];
    }
    steps.push({ cmd });
  }
  for (const key of [...zkeys, "dst"]) steps.push({ cmd: ["ZRANGE", key, "0", "-1", "WITHSCORES"] });
  return steps;
}
