/**
 * List commands against redis-server 7.0, in RESP2 and RESP3, byte for byte:
 * every command and option with its edge cases (empty results, negative
 * indexes, out-of-range and huge values, wrong types, wrong arity, bad
 * integers, keys deleted when a list empties), LPOS combinations, the
 * LMPOP/BLMPOP argument errors, and the blocking commands: with data
 * available (their non-blocking path), inside MULTI (where they never
 * block), and with short timeouts that expire.
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const script = (text: string, origin: string): Step[] => parseScript(text, origin);

/** RPUSH key e000 e001 ... (n elements, in batches). */
function bigList(key: string, n: number, every = 0, marker = "hit"): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < n; start += 100) {
    const cmd = ["RPUSH", key];
    for (let i = start; i < Math.min(n, start + 100); i++) {
      cmd.push(every > 0 && i % every === 3 ? marker : `e${String(i).padStart(3, "0")}`);
    }
    steps.push({ cmd });
  }
  return steps;
}

describe("list commands, differential", () => {
  useDifferentialServers();

  it("LPUSH, RPUSH, LPUSHX, RPUSHX, LLEN", () =>
    runDifferential("list-push", script(`
      LPUSH l a
      LPUSH l b c d
      RPUSH l x y
      LRANGE l 0 -1
      LLEN l
      LPUSHX l p q
      RPUSHX l r
      LRANGE l 0 -1
      LPUSHX nokey a
      RPUSHX nokey a b
      EXISTS nokey
      LLEN nokey
      RPUSH ints 1 -1 007 -0 9223372036854775807 9223372036854775808 1.5 "" " 1"
      LRANGE ints 0 -1
      RPUSH bin "\\x00\\xff" "\\r\\n" "héllo"
      LRANGE bin 0 -1
      LPUSH l
      RPUSH
      LPUSHX l
      RPUSHX
      LLEN
      LLEN l extra
      SET s v
      LPUSH s a
      RPUSH s a
      LPUSHX s a
      RPUSHX s a
      LLEN s
      TYPE l
      OBJECT ENCODING l
    `, "push")));

  it("LPOP, RPOP with and without count", () =>
    runDifferential("list-pop", script(`
      RPUSH l a b c d e f g
      LPOP l
      RPOP l
      LPOP l 2
      RPOP l 2
      LPOP l 0
      RPOP l 0
      LPOP l -1
      RPOP l -1
      LPOP l x
      RPOP l 1.5
      LPOP l 9223372036854775807
      EXISTS l
      LPOP l
      RPOP l
      LPOP l 0
      RPOP l 3
      LPOP l -1
      LPOP nokey 0
      RPOP nokey x
      RPUSH l a
      RPOP l 1
      EXISTS l
      RPUSH l a b
      LPOP l 1 2
      RPOP l 1 2
      LPOP
      RPOP
      SET s v
      LPOP s
      RPOP s 2
      LPOP s 0
      LPOP s -1
    `, "pop")));

  it("LINDEX and LSET", () =>
    runDifferential("list-index", script(`
      RPUSH l a b c d e
      LINDEX l 0
      LINDEX l 4
      LINDEX l 5
      LINDEX l -1
      LINDEX l -5
      LINDEX l -6
      LINDEX l 9223372036854775807
      LINDEX l -9223372036854775808
      LINDEX l 9223372036854775808
      LINDEX l x
      LINDEX l ""
      LINDEX nokey 0
      LINDEX nokey x
      LINDEX l
      LINDEX l 0 1
      LSET l 0 A
      LSET l -1 E
      LSET l 2 ""
      LRANGE l 0 -1
      LSET l 5 x
      LSET l -6 x
      LSET l 9223372036854775807 x
      LSET l x x
      LSET nokey 0 x
      LSET nokey x x
      LSET l 0
      LSET l 0 a b
      SET s v
      LINDEX s 0
      LINDEX s x
      LSET s 0 x
      LSET s x x
    `, "index")));

  it("LRANGE and LTRIM", () =>
    runDifferential("list-range", script(`
      RPUSH l a b c d e f g h i j
      LRANGE l 0 -1
      LRANGE l 0 0
      LRANGE l 2 4
      LRANGE l -3 -1
      LRANGE l -100 2
      LRANGE l 8 100
      LRANGE l 5 2
      LRANGE l 10 20
      LRANGE l -1 -2
      LRANGE l -100 -50
      LRANGE l 0 9223372036854775807
      LRANGE l -9223372036854775808 9223372036854775807
      LRANGE l 9223372036854775807 -9223372036854775808
      LRANGE l 0 9223372036854775808
      LRANGE l x 1
      LRANGE l 1 x
      LRANGE nokey 0 -1
      LRANGE nokey x 1
      LRANGE l 0
      LRANGE l 0 1 2
      LTRIM l 0 -1
      LTRIM l -100 100
      LRANGE l 0 -1
      LTRIM l 1 -2
      LRANGE l 0 -1
      LTRIM l 2 2
      LRANGE l 0 -1
      LTRIM l 0 0
      LRANGE l 0 -1
      LTRIM l 1 0
      EXISTS l
      RPUSH l a b c
      LTRIM l 5 10
      EXISTS l
      RPUSH l a b c
      LTRIM l -1 -2
      EXISTS l
      RPUSH l a b c
      LTRIM l -9223372036854775808 9223372036854775807
      LRANGE l 0 -1
      LTRIM l x 1
      LTRIM l 1 x
      LTRIM nokey 0 1
      LTRIM nokey x 1
      EXISTS nokey
      LTRIM l 0
      SET s v
      LRANGE s 0 -1
      LRANGE s x 1
      LTRIM s 0 1
      LTRIM s x 1
    `, "range")));

  it("long lists: LRANGE, LINDEX, LTRIM, pops and LPOS across pages", () =>
    runDifferential("list-long", [
      ...bigList("big", 1200, 97),
      ...script(`
        LLEN big
        LRANGE big 0 -1
        LRANGE big 250 700
        LRANGE big -300 -2
        LINDEX big 0
        LINDEX big 599
        LINDEX big 600
        LINDEX big -1
        LINDEX big -700
        LSET big 777 changed
        LINDEX big 777
        LPOS big hit
        LPOS big hit COUNT 0
        LPOS big hit RANK -1 COUNT 0
        LPOS big hit RANK 3 COUNT 4
        LPOS big hit RANK -2 MAXLEN 700 COUNT 0
        LPOS big e1199
        LPOS big e1199 MAXLEN 1199
        LPOS big changed RANK -1
        LREM big 3 hit
        LREM big -2 hit
        LPOS big hit COUNT 0
        LINSERT big BEFORE e500 inserted
        LINSERT big AFTER e1199 last
        LINDEX big -1
        LPOS big inserted
        LPOP big 300
        RPOP big 300
        LLEN big
        LTRIM big 100 -101
        LLEN big
        LRANGE big 0 -1
        LREM big 0 hit
        LLEN big
      `, "long"),
    ]));

  it("LINSERT", () =>
    runDifferential("list-linsert", script(`
      RPUSH l a b a
      LINSERT l BEFORE a x
      LINSERT l after a y
      LINSERT l AFTER b z
      LINSERT l before b ""
      LRANGE l 0 -1
      LINSERT l BEFORE nope q
      LINSERT nokey BEFORE a q
      EXISTS nokey
      LINSERT l MIDDLE a q
      LINSERT nokey MIDDLE a q
      LINSERT l BEFORE a
      LINSERT l BEFORE a b c
      LINSERT l
      SET s v
      LINSERT s BEFORE a q
      LINSERT s MIDDLE a q
      RPUSH r right
      LINSERT r BEFORE right 1
      LINSERT r BEFORE right 2
      LINSERT r BEFORE right 3
      LINSERT r BEFORE right 4
      LINSERT r BEFORE right 5
      LINSERT r BEFORE right 6
      LINSERT r BEFORE right 7
      LINSERT r BEFORE right 8
      LINSERT r BEFORE right 9
      LINSERT r BEFORE right 10
      LINSERT r BEFORE right 11
      LINSERT r BEFORE right 12
      LINSERT r BEFORE right 13
      LINSERT r BEFORE right 14
      LINSERT r BEFORE right 15
      LINSERT r BEFORE right 16
      LINSERT r BEFORE right 17
      LINSERT r BEFORE right 18
      LINSERT r BEFORE right 19
      LINSERT r BEFORE right 20
      LINSERT r BEFORE right 21
      LINSERT r BEFORE right 22
      LINSERT r BEFORE right 23
      LINSERT r BEFORE right 24
      LINSERT r AFTER 1 one
      LRANGE r 0 -1
    `, "linsert")));

  it("LREM", () =>
    runDifferential("list-lrem", script(`
      RPUSH l a b a c a b a
      LREM l 2 a
      LRANGE l 0 -1
      LREM l -1 b
      LRANGE l 0 -1
      LREM l 0 a
      LRANGE l 0 -1
      LREM l 0 zz
      LREM l 100 zz
      LREM l -9223372036854775808 b
      LREM l 9223372036854775807 c
      EXISTS l
      LREM nokey 1 a
      LREM l x a
      LREM nokey x a
      LREM l 1
      LREM l 1 a b
      RPUSH e ""
      LREM e 0 ""
      EXISTS e
      SET s v
      LREM s 1 a
      LREM s x a
    `, "lrem")));

  it("LPOS", () =>
    runDifferential("list-lpos", script(`
      RPUSH l a b c 1 2 3 c c
      LPOS l c
      LPOS l c RANK 1
      LPOS l c RANK 2
      LPOS l c RANK 3
      LPOS l c RANK 4
      LPOS l c RANK -1
      LPOS l c RANK -3
      LPOS l c RANK -4
      LPOS l c COUNT 0
      LPOS l c COUNT 1
      LPOS l c COUNT 2
      LPOS l c COUNT 100
      LPOS l c COUNT 2 RANK -1
      LPOS l c RANK 2 COUNT 0
      LPOS l c RANK -2 COUNT 1
      LPOS l c COUNT 0 MAXLEN 7
      LPOS l c COUNT 0 MAXLEN 3
      LPOS l c COUNT 0 MAXLEN 2
      LPOS l c MAXLEN 2
      LPOS l c RANK -1 MAXLEN 1
      LPOS l c RANK -1 COUNT 0 MAXLEN 6
      LPOS l c RANK -1 COUNT 0 MAXLEN 5
      LPOS l c RANK 2 MAXLEN 3
      LPOS l c MAXLEN 0
      LPOS l c MAXLEN 100
      LPOS l c rank 1 count 1 maxlen 1
      LPOS l c RANK 1 RANK -1
      LPOS l c COUNT 1 COUNT 0
      LPOS l zz
      LPOS l zz COUNT 1
      LPOS l zz COUNT 0 RANK -1
      LPOS l 1
      LPOS l ""
      LPOS l c RANK -9223372036854775808
      LPOS l c RANK -9223372036854775808 COUNT 1
      LPOS l c RANK -9223372036854775808 COUNT 2 MAXLEN 2
      LPOS l c RANK -9223372036854775807 COUNT 1
      LPOS l c RANK 9223372036854775807
      LPOS l c RANK 9223372036854775807 COUNT 0
      LPOS l c COUNT 9223372036854775807
      LPOS l c MAXLEN 9223372036854775807
      LPOS l c RANK 0
      LPOS l c RANK x
      LPOS l c RANK 9223372036854775808
      LPOS l c COUNT -1
      LPOS l c COUNT x
      LPOS l c MAXLEN -1
      LPOS l c MAXLEN x
      LPOS l c RANK
      LPOS l c COUNT
      LPOS l c MAXLEN
      LPOS l c FOO 1
      LPOS l c RANK 1 FOO
      LPOS nokey c
      LPOS nokey c COUNT 0
      LPOS nokey c RANK 0
      LPOS nokey c COUNT -1
      LPOS l
      SET s v
      LPOS s c
      LPOS s c COUNT 0
      LPOS s c RANK 0
    `, "lpos")));

  it("LMOVE and RPOPLPUSH", () =>
    runDifferential("list-lmove", script(`
      RPUSH src a b c d e
      LMOVE src dst LEFT LEFT
      LMOVE src dst left right
      LMOVE src dst RIGHT LEFT
      LMOVE src dst right right
      LRANGE dst 0 -1
      RPOPLPUSH src dst
      EXISTS src
      LRANGE dst 0 -1
      LMOVE src dst LEFT LEFT
      RPOPLPUSH src dst
      LMOVE dst dst LEFT RIGHT
      LMOVE dst dst RIGHT LEFT
      LMOVE dst dst LEFT LEFT
      RPOPLPUSH dst dst
      LRANGE dst 0 -1
      RPUSH one x
      LMOVE one one LEFT RIGHT
      RPOPLPUSH one one
      LRANGE one 0 -1
      LMOVE dst src UP LEFT
      LMOVE dst src LEFT DOWN
      LMOVE nokey src UP LEFT
      LMOVE dst src LEFT
      LMOVE dst src LEFT LEFT x
      RPOPLPUSH dst
      RPOPLPUSH dst src x
      SET s v
      LMOVE s dst LEFT LEFT
      LMOVE dst s LEFT LEFT
      LMOVE nokey s LEFT LEFT
      RPOPLPUSH s dst
      RPOPLPUSH dst s
      RPOPLPUSH nokey s
      LRANGE dst 0 -1
    `, "lmove")));

  it("LMPOP", () =>
    runDifferential("list-lmpop", script(`
      RPUSH b 1 2 3 4
      RPUSH c x
      LMPOP 1 a LEFT
      LMPOP 3 a b c LEFT
      LMPOP 2 b c RIGHT COUNT 2
      LMPOP 2 b c left count 10
      LMPOP 2 b c RIGHT COUNT 1
      LMPOP 2 b c RIGHT
      EXISTS b c
      LMPOP 0 a LEFT
      LMPOP -1 a LEFT
      LMPOP x a LEFT
      LMPOP 1.5 a LEFT
      LMPOP 2 a LEFT
      LMPOP 3 a LEFT
      LMPOP 1 a MIDDLE
      LMPOP 1 a LEFT COUNT 0
      LMPOP 1 a LEFT COUNT -1
      LMPOP 1 a LEFT COUNT x
      LMPOP 1 a LEFT COUNT
      LMPOP 1 a LEFT COUNT 1 COUNT 1
      LMPOP 1 a LEFT FOO
      LMPOP 1 a LEFT COUNT 1 FOO
      LMPOP 2 a b
      LMPOP 1 a
      LMPOP 1
      SET s v
      RPUSH l a b
      LMPOP 2 s l LEFT
      LMPOP 2 l s LEFT
      LMPOP 2 nokey s RIGHT
      LMPOP 1 s LEFT COUNT 0
    `, "lmpop")));

  it("blocking commands with data available answer at once", () =>
    runDifferential("list-blocking-data", script(`
      RPUSH l a b c d e f g h
      BLPOP l 0
      BRPOP l 0
      BLPOP nokey l 1
      BRPOP nokey l 0.5
      BLPOP l l 0
      BLMOVE l dst LEFT RIGHT 0
      BLMOVE l dst right left 10
      BRPOPLPUSH l dst 0
      EXISTS l
      RPUSH l 1 2 3 4 5 6 7 8
      BLMPOP 0 2 nokey l LEFT
      BLMPOP 0 1 l RIGHT COUNT 5
      EXISTS l
      LRANGE dst 0 -1
      BLMOVE dst dst LEFT RIGHT 0
      BRPOPLPUSH dst dst 0
      LRANGE dst 0 -1
      SET s v
      BLPOP s 0
      BLPOP nokey s 0
      BLPOP dst s 0
      BRPOP s 0
      BLMOVE s dst LEFT LEFT 0
      BLMOVE dst s LEFT LEFT 0
      BRPOPLPUSH s dst 0
      BRPOPLPUSH dst s 0
      BLMPOP 0 2 nokey s LEFT
      BLMPOP 0 2 dst s LEFT
      LRANGE dst 0 -1
    `, "blocking-data")));

  it("blocking command argument errors", () =>
    runDifferential("list-blocking-errors", script(`
      RPUSH l a
      BLPOP l x
      BLPOP l -1
      BLPOP l -0.001
      BLPOP l inf
      BLPOP l -inf
      BLPOP l nan
      BLPOP l 1e20
      BLPOP l " 1"
      BLPOP l ""
      BRPOP l x
      BRPOP l -1
      BLMOVE l d LEFT LEFT x
      BLMOVE l d LEFT LEFT -1
      BLMOVE l d UP LEFT x
      BLMOVE l d LEFT DOWN 0
      BRPOPLPUSH l d x
      BRPOPLPUSH l d -1
      BLMPOP 0 0 l LEFT
      BLMPOP 0 -1 l LEFT
      BLMPOP 0 x l LEFT
      BLMPOP 0 2 l LEFT
      BLMPOP 0 1 l MIDDLE
      BLMPOP 0 1 l LEFT COUNT 0
      BLMPOP 0 1 l LEFT COUNT -5
      BLMPOP 0 1 l LEFT COUNT x
      BLMPOP 0 1 l LEFT COUNT
      BLMPOP 0 1 l LEFT COUNT 1 COUNT 2
      BLMPOP 0 1 l LEFT FOO
      BLMPOP x 1 l LEFT
      BLMPOP -1 1 l LEFT
      BLMPOP x 0 l LEFT
      BLMPOP x 1 l MIDDLE
      BLPOP l
      BLPOP
      BRPOP l
      BLMOVE l d LEFT LEFT
      BRPOPLPUSH l d
      BLMPOP 0 1 l
      BLMPOP 0 1
      LRANGE l 0 -1
    `, "blocking-errors")));

  it("blocking commands inside MULTI answer as their non-blocking forms", () =>
    runDifferential("list-blocking-multi", script(`
      MULTI
      BLPOP nokey 0
      BRPOP nokey other 0
      BLMOVE nokey d LEFT LEFT 0
      BRPOPLPUSH nokey d 0
      BLMPOP 0 2 nokey other LEFT
      BLMPOP 0 1 nokey LEFT COUNT 3
      RPUSH q a b c
      BLPOP q 0
      BRPOP q 0
      BLMOVE q d LEFT LEFT 0
      BLPOP q 0
      BLMPOP 0 1 q LEFT
      BLPOP q x
      EXEC
      LRANGE d 0 -1
      EXISTS q
    `, "blocking-multi")));

  it("blocking commands time out with their timeout replies", () =>
    runDifferential("list-blocking-timeout", script(`
      BLPOP nokey 0.01
      BRPOP nokey other 0.02
      BLMOVE nokey d LEFT LEFT 0.01
      BRPOPLPUSH nokey d 0.01
      BLMPOP 0.01 2 nokey other LEFT
      BLMPOP 0.01 1 nokey RIGHT COUNT 2
      SET s v
      DEL s
      BLPOP s 0.01
      EXISTS d nokey
    `, "blocking-timeout")));

  it("pops that empty a list delete the key; types and encodings", () =>
    runDifferential("list-empty", script(`
      RPUSH l a
      LPOP l
      EXISTS l
      TYPE l
      RPUSH l a b
      RPOP l 2
      EXISTS l
      RPUSH l a
      LREM l 1 a
      EXISTS l
      RPUSH l a
      LTRIM l 1 1
      EXISTS l
      RPUSH l a
      LMOVE l other LEFT LEFT
      EXISTS l
      TYPE other
      OBJECT ENCODING other
      LMPOP 1 other LEFT COUNT 5
      EXISTS other
      RPUSH l x
      SET l string
      TYPE l
      RPUSH l2 x
      EXPIRE l2 100
      RPUSH l2 y
      TTL l2
      LPOP l2 2
      EXISTS l2
      RPUSH l2 z
      TTL l2
      DBSIZE
    `, "empty")));
});
