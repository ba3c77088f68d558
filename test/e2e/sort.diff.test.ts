/**
 * SORT and SORT_RO against redis-server 7.0, in RESP2 and RESP3: numeric and
 * ALPHA sorts of lists, sets and sorted sets, BY (weights in strings and hash
 * fields, constant patterns), LIMIT edge cases, GET (#, strings, hash fields,
 * missing values), STORE, key extraction, and errors.
 *
 * Order: a set that is not an intset has no order in Redis (hash table), so
 * unsorted reads of such sets (BY nosort) are compared in any order; every
 * sorted result is compared byte for byte.
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential";

const run = (name: string, steps: Step[]) => runDifferential(`sort-${name}`, steps, { protocols: [2, 3] });
const script = (text: string, origin: string): Step[] => parseScript(text, origin);

describe("SORT vs redis-server", () => {
  useDifferentialServers();

  it("numeric and ALPHA sorts of a list, LIMIT, DESC", () =>
    run("list", script(String.raw`
      RPUSH l 3 1 2 10 -5 1.5 0x10 " 7" inf -inf 1e3 "" 1.0 +4 .5 0
      SORT l
      SORT l ASC
      SORT l DESC
      SORT l desc asc
      SORT l LIMIT 0 3
      SORT l LIMIT 2 3 DESC
      SORT l LIMIT -5 3
      SORT l LIMIT 0 -1
      SORT l LIMIT 3 -7
      SORT l LIMIT 14 5
      SORT l LIMIT 15 5
      SORT l LIMIT 100 5
      SORT l LIMIT 0 0
      SORT l LIMIT 3 0
      SORT l LIMIT 9223372036854775807 9223372036854775807
      SORT l LIMIT -9223372036854775808 -9223372036854775808
      SORT l LIMIT 1 2 LIMIT 4 2
      SORT l ALPHA
      SORT l ALPHA DESC
      SORT l ALPHA LIMIT 5 5
      SORT l BY nosort
      SORT l BY nosort DESC
      SORT l BY nosort LIMIT 1 3
      SORT l BY nosort DESC LIMIT 1 3
      SORT l BY nosort LIMIT 10 100
      SORT l BY nosort DESC LIMIT 10 100
      SORT l BY nosort LIMIT 20 1
      SORT l BY nosort ALPHA
      SORT_RO l
      SORT_RO l DESC LIMIT 1 4
      SORT_RO l BY nosort DESC
      SORT nokey
      SORT nokey DESC ALPHA LIMIT 0 10
      SORT nokey BY nosort
      SORT_RO nokey
      RPUSH dup 2 1 2 1 b a b
      SORT dup ALPHA
      SORT dup ALPHA DESC
      RPUSH one x
      SORT one
      SORT one ALPHA
      SORT one BY nosort
    `, "list")));

  it("scores that are not numbers", () =>
    run("scores", script(String.raw`
      RPUSH a 1 abc 2
      SORT a
      SORT a LIMIT 0 0
      SORT a ALPHA
      SORT a BY nosort
      RPUSH b 1 nan
      SORT b
      RPUSH e 1 "1 "
      SORT e
      RPUSH f 1 " "
      SORT f
      RPUSH g 1 "2\x00junk" 0
      SORT g
      RPUSH i 1 0e-500 -0 -0.0 "\t\n 3"
      SORT i
      RPUSH j 1 0x 1e
      SORT j
      RPUSH k 5 -inf +inf Infinity -INFINITY
      SORT k
      SORT k DESC
      # Out-of-range values last: Redis checks a stale errno after strtod, so
      # after an ERANGE even valid scores can fail on the same connection.
      RPUSH c 1 1e400
      SORT c
      RPUSH d 1 1e-400
      SORT d
      RPUSH h 1 1e-310
      SORT h
    `, "scores")));

  it("sets and sorted sets", () =>
    run("set-zset", [
      ...script(String.raw`
        SADD ints 5 3 -1 100 42 7
        SORT ints
        SORT ints DESC
        SORT ints ALPHA
        SORT ints BY nosort
        SORT ints BY nosort DESC
        SORT ints BY nosort LIMIT 2 3
        SORT ints LIMIT 1 2
        SADD words pear apple fig banana
        SORT words
        SORT words ALPHA
        SORT words ALPHA DESC LIMIT 1 2
        SORT words BY nosort ~unordered
        SORT words BY nosort LIMIT 0 10 ~unordered
        SORT words BY nosort STORE dst
        LRANGE dst 0 -1
        SORT words BY nosort DESC STORE dst
        LRANGE dst 0 -1
        SORT_RO words ALPHA
        ZADD z 3 c 1 b 2 a 0 d 5 e
        SORT z ALPHA
        SORT z
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 2
        SORT z BY nosort DESC LIMIT 1 2
        SORT z BY nosort LIMIT 4 10
        SORT z BY nosort DESC LIMIT 4 10
        SORT z BY nosort LIMIT 5 10
        ZADD zn 1 10 1 9 2 -3 0 100
        SORT zn
        SORT zn DESC
        SORT zn BY nosort
        SORT zn BY nosort STORE zdst
        LRANGE zdst 0 -1
      `, "set-zset"),
    ]));

  it("large collections", () => {
    const steps: Step[] = [];
    const values: string[] = [];
    for (let i = 0; i < 1500; i++) values.push(String((i * 7919) % 2003 - 1000));
    for (let i = 0; i < values.length; i += 100) steps.push({ cmd: ["RPUSH", "big", ...values.slice(i, i + 100)] });
    for (let i = 0; i < values.length; i += 100) steps.push({ cmd: ["SADD", "bigset", ...values.slice(i, i + 100)] });
    for (let i = 0; i < values.length; i += 100) {
      const cmd = ["ZADD", "bigz"];
      for (const v of values.slice(i, i + 100)) cmd.push(String(Number(v) % 37), `m${v}`);
      steps.push({ cmd });
    }
    steps.push(
      { cmd: ["SORT", "big"] },
      { cmd: ["SORT", "big", "DESC", "LIMIT", "100", "50"] },
      { cmd: ["SORT", "big", "ALPHA", "LIMIT", "700", "20"] },
      { cmd: ["SORT", "big", "BY", "nosort", "LIMIT", "1000", "600"] },
      { cmd: ["SORT", "big", "BY", "nosort", "DESC", "LIMIT", "1000", "600"] },
      { cmd: ["SORT", "bigset"] },
      { cmd: ["SORT", "bigset", "ALPHA", "DESC", "LIMIT", "10", "10"] },
      { cmd: ["SORT", "bigset", "BY", "nosort", "STORE", "bigdst"] },
      { cmd: ["LRANGE", "bigdst", "0", "-1"] },
      { cmd: ["SORT", "bigz", "ALPHA"] },
      { cmd: ["SORT", "bigz", "BY", "nosort", "LIMIT", "300", "700"] },
      { cmd: ["SORT", "bigz", "BY", "nosort", "DESC", "LIMIT", "300", "700"] },
      { cmd: ["SORT", "bigz", "BY", "nosort", "DESC"] },
    );
    return run("large", steps);
  });

  it("BY and GET patterns", () =>
    run("patterns", script(String.raw`
      RPUSH l 1 2 3 4
      MSET w_1 40 w_2 10 w_3 30 w_4 20
      MSET o_1 one o_2 two o_3 three
      HSET h_1 f 4 name uno
      HSET h_2 f 3 name dos
      HSET h_3 f 2
      HSET h_4 f 1 name cuatro
      SORT l BY w_*
      SORT l BY w_* DESC
      SORT l BY w_* LIMIT 1 2
      SORT l BY w_* DESC LIMIT 1 2
      SORT l BY w_* GET o_*
      SORT l BY w_* GET # GET o_* GET h_*->name GET h_*->f
      SORT l BY h_*->f
      SORT l BY h_*->f GET h_*->name
      SORT l BY h_*->nosuch GET #
      SORT l BY nosuch_* GET #
      SORT l BY nosuch_* DESC
      SORT l BY w_* ALPHA
      SORT l BY o_* ALPHA
      SORT l BY o_* ALPHA DESC
      SORT l BY h_*->name ALPHA GET h_*->name
      SORT l BY o_*
      SORT l BY h_*->name
      SORT l GET o_*
      SORT l GET o_* GET #
      SORT l GET nostar
      SORT l GET #
      SORT l GET ## GET "#\x00x"
      SORT l GET h_*->
      SORT l GET h_*-> GET *->f GET w_*x
      SORT l GET w_* BY nosort DESC LIMIT 1 2
      SORT l BY w_* GET h_1->f
      SORT l BY h_1 GET h_*->f
      SORT l BY "w_\x00*"
      SORT l BY w_*->f
      SET h_1x x
      SORT l GET h_*x
      RPUSH lst_1 a
      SORT l GET lst_* GET lst_*->f
      SORT l BY lst_*
      MSET wt_a 2 wt_b 1 wt_c 2.5
      RPUSH letters a b c
      SORT letters BY wt_*
      SORT letters BY wt_* GET # GET wt_*
      SET wt_b junk
      SORT letters BY wt_*
      SORT letters BY wt_* ALPHA
      SORT letters BY wt_* ALPHA DESC
      SORT_RO letters BY wt_* ALPHA GET wt_*
      SADD s 2 3 1
      SORT s BY w_* GET o_*
      ZADD z 1 3 2 1 3 2
      SORT z BY w_* GET #
      SORT z BY w_* DESC GET o_*
    `, "patterns")));

  it("STORE", () =>
    run("store", script(String.raw`
      RPUSH l 3 1 2
      MSET o_1 one o_3 three
      SORT l STORE dst
      LRANGE dst 0 -1
      TYPE dst
      SORT l DESC STORE dst
      LRANGE dst 0 -1
      SORT l GET o_* GET # STORE dst
      LRANGE dst 0 -1
      LLEN dst
      SORT l LIMIT 0 0 STORE dst
      EXISTS dst
      SORT l LIMIT 0 0 STORE dst
      SORT nokey STORE dst
      SET dst x EX 100
      SORT l STORE dst
      TTL dst
      LRANGE dst 0 -1
      SORT l STORE l
      LRANGE l 0 -1
      SORT l ALPHA DESC STORE l
      LRANGE l 0 -1
      SORT l BY nosort STORE d2
      LRANGE d2 0 -1
      SORT l STORE d3 STORE d4
      EXISTS d3 d4
      LRANGE d4 0 -1
      SORT l BY nosort GET o_* STORE d5
      LRANGE d5 0 -1
      RPUSH bad 1 x
      SORT bad STORE d6
      EXISTS d6
      SORT_RO l STORE dst
      SORT_RO l STORE
      SORT l STORE
      COMMAND GETKEYS SORT l STORE dst
      COMMAND GETKEYS SORT l LIMIT 0 1 GET store STORE dst BY store
      COMMAND GETKEYS SORT l STORE a STORE b
      COMMAND GETKEYS SORT_RO l GET # BY w_*
      COMMAND GETKEYSANDFLAGS SORT l STORE dst
      COMMAND GETKEYSANDFLAGS SORT_RO l
    `, "store")));

  it("errors", () =>
    run("errors", script(String.raw`
      RPUSH l 1 2
      SORT l FOO
      SORT l LIMIT
      SORT l LIMIT 1
      SORT l LIMIT x 1
      SORT l LIMIT 1 x
      SORT l LIMIT 1.5 1
      SORT l LIMIT 9223372036854775808 1
      SORT l BY
      SORT l GET
      SORT l STORE
      SORT l ASC DESC ALPHA FOO
      SORT_RO l STORE x
      SORT_RO l FOO
      SORT
      SORT_RO
      SET str x
      SORT str
      SORT str LIMIT 0 1
      SORT str FOO
      SORT_RO str
      HSET h f v
      SORT h
      SORT l STORE str
      TYPE str
    `, "errors")));

  it("SORT in MULTI", () =>
    run("multi", script(String.raw`
      RPUSH l 2 3 1
      MULTI
      SORT l
      SORT l STORE d
      LRANGE d 0 -1
      SORT_RO d DESC
      SORT l FOO
      EXEC
      LRANGE d 0 -1
    `, "multi")));
});
