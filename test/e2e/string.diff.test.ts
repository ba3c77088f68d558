/**
 * Differential tests of the string commands against redis-server 7.0, in RESP2
 * and RESP3: every command and option, errors, numeric edge cases, the LCS
 * examples of the Redis documentation.
 *
 * redis-server runs with proto-max-bulk-len 16mb, tidekv's default (Redis's is
 * 512mb), so size limits can be compared too.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseScript, runDifferential, setDifferentialTargets, targetsFor } from "../support/differential";
import { startRedisServer, startTidekv, type RedisServer, type TidekvServer } from "../support/processes";

const run = (name: string, script: string) => runDifferential(`string-${name}`, parseScript(script, name), { protocols: [2, 3] });

describe("string commands vs redis-server", () => {
  let redis: RedisServer | undefined;
  let tidekv: TidekvServer | undefined;
  beforeAll(async () => {
    redis = await startRedisServer({ args: ["--proto-max-bulk-len", "16mb"] });
    tidekv = await startTidekv();
    setDifferentialTargets(targetsFor(redis, tidekv));
  });
  afterAll(async () => {
    setDifferentialTargets(undefined);
    await Promise.all([redis?.stop(), tidekv?.stop()]);
  });

  it("GET and SET", () =>
    run("get-set", String.raw`
      GET k
      SET k v
      GET k
      SET k ""
      GET k
      SET bin "\x00\xff\r\n$*"
      GET bin
      SET "\x00key" "\x00"
      GET "\x00key"
      SET k
      GET
      GET a b
      SET k v extra
      # NX / XX / GET
      SET k v1 NX
      SET k2 v NX
      SET k2 w XX
      GET k2
      SET k3 w XX
      GET k3
      SET k v nx nx
      SET k v xx xx
      SET k v NX XX
      SET k v XX NX
      SET k v2 GET
      SET k v3 get GET
      SET newkey v GET
      SET k v4 NX GET
      GET k
      SET k v5 XX GET
      SET nokey v XX GET
      GET nokey
      SET nokey2 v NX GET
      GET nokey2
      # expiry
      SET k v EX 100
      TTL k
      SET k v px 100000
      TTL k
      SET k v EXAT 4102444800
      TTL k ~type
      SET k v PXAT 4102444800000
      PTTL k ~type
      SET k v KEEPTTL
      TTL k ~type
      SET k v KEEPTTL GET
      SET k v
      TTL k
      SET k v EX 100 EX 200
      TTL k
      SET k v PX 1000 PX 300000
      TTL k
      SET k v EXAT 4102444800 EXAT 4102444900
      SET k v PXAT 4102444800000 PXAT 4102444900000
      SET k v EX 100 GET
      SET k v NX EX 100
      SET k v XX EX 100
      TTL k
      SET k v EX 100 KEEPTTL
      SET k v KEEPTTL EX 100
      SET k v KEEPTTL PX 100
      SET k v KEEPTTL EXAT 100
      SET k v KEEPTTL PXAT 100
      SET k v EX 10 PX 10
      SET k v PX 10 EX 10
      SET k v EX 10 EXAT 10
      SET k v EXAT 10 PXAT 10
      SET k v PXAT 10 EX 10
      SET k v PERSIST
      SET k v KEEPTTL PERSIST
      SET k v EX
      SET k v PX
      SET k v EXAT
      SET k v PXAT
      SET k v FOO
      SET k v EX 0
      SET k v EX -1
      SET k v PX 0
      SET k v PX -100
      SET k v EXAT 0
      SET k v PXAT -1
      SET k v EX abc
      SET k v EX 1.5
      SET k v EX ""
      SET k v EX 9223372036854775807
      SET k v EX 9223372036854775
      SET k v PX 9223372036854775807
      SET k v EX 9223372036854775808
      SET k v PXAT 9223372036854775808
      SET k v EXAT 9223372036854775807
      GET k
      SET k v EXAT 9223372036854775
      GET k
      # a past absolute time: stored, then gone
      SET past v EXAT 1
      GET past
      SET past v PXAT 1
      GET past
      TTL past
      SET past v PXAT 1000 GET
      # wrong type
      HSET h f v
      SET h v GET
      GET h
      SET h v NX
      SET h v XX
      GET h
    `));

  it("SETNX, SETEX, PSETEX, GETSET, GETDEL", () =>
    run("setnx-setex", String.raw`
      SETNX sn 1
      SETNX sn 2
      GET sn
      SETNX sn
      SETNX sn 1 2
      SETEX se 100 v
      TTL se
      GET se
      SETEX se 0 v
      SETEX se -1 v
      SETEX se abc v
      SETEX se 1.5 v
      SETEX se 9223372036854775807 v
      SETEX se 9223372036854775 v
      SETEX se 100
      PSETEX pe 100000 v
      TTL pe
      PTTL pe ~type
      GET pe
      PSETEX pe 0 v
      PSETEX pe -1 v
      PSETEX pe x v
      PSETEX pe 9223372036854775807 v
      GETSET gs a
      GETSET gs b
      GET gs
      SET gs x EX 100
      GETSET gs y
      TTL gs
      GETSET gs
      GETDEL gd
      SET gd v
      GETDEL gd
      GET gd
      GETDEL gd
      GETDEL
      HSET h f v
      SETNX h v
      GETSET h v
      GETDEL h
      SETEX h 100 v
      GET h
      TTL h
      HSET h2 f v
      PSETEX h2 100000 v
      GET h2
      HSET h3 f v
      GETDEL h3
    `));

  it("GETEX", () =>
    run("getex", String.raw`
      GETEX nokey
      GETEX nokey EX 0
      GETEX nokey EX abc
      GETEX nokey FOO
      SET ge v
      GETEX ge
      TTL ge
      GETEX ge EX 100
      TTL ge
      GETEX ge px 200000
      TTL ge
      GETEX ge EXAT 4102444800
      TTL ge ~type
      GETEX ge PXAT 4102444800000
      PTTL ge ~type
      GETEX ge PERSIST
      TTL ge
      GETEX ge persist
      TTL ge
      GETEX ge EX 100 EX 200
      TTL ge
      GETEX ge EX 0
      GETEX ge EX -1
      GETEX ge PX 0
      GETEX ge EXAT 0
      GETEX ge PXAT -5
      GETEX ge EX abc
      GETEX ge EX 1.5
      GETEX ge EX 9223372036854775807
      GETEX ge PX 9223372036854775807
      GETEX ge EX
      GETEX ge PX
      GETEX ge NX
      GETEX ge XX
      GETEX ge KEEPTTL
      GETEX ge GET
      GETEX ge EX 10 PX 10
      GETEX ge PX 10 EXAT 10
      GETEX ge PERSIST EX 10
      GETEX ge EX 10 PERSIST
      GETEX ge PERSIST PERSIST
      GETEX ge FOO
      TTL ge
      GETEX ge EXAT 1
      GET ge
      SET ge2 v
      GETEX ge2 PXAT 1
      GET ge2
      GETEX
      HSET h f v
      GETEX h
      GETEX h EX 0
      GETEX h PERSIST
    `));

  it("MGET, MSET, MSETNX", () =>
    run("mset", String.raw`
      MSET a 1 b 2 c 3
      MGET a b c nokey
      MGET a
      MGET
      MSET a
      MSET a 1 b
      MSET a 1 a 2
      GET a
      SET a 1 EX 100
      MSET a 2
      TTL a
      MSETNX x 1 y 2
      MGET x y
      MSETNX y 3 z 4
      GET z
      MSETNX q 1 q 2
      GET q
      MSETNX x
      MSETNX x 1 y
      HSET h f v
      MGET a h b
      MSETNX h 1 new 2
      GET new
      MSET h v
      GET h
    `));

  it("INCR, DECR, INCRBY, DECRBY", () =>
    run("incr", String.raw`
      INCR i
      INCR i
      DECR i
      INCRBY i 10
      DECRBY i 20
      INCRBY i -5
      DECRBY i -5
      INCRBY i 0
      INCR nokey1
      DECR nokey2
      INCRBY nokey3 -7
      DECRBY nokey4 7
      SET big 9223372036854775806
      INCR big
      INCR big
      GET big
      INCRBY big -1
      SET small -9223372036854775807
      DECR small
      DECR small
      GET small
      INCRBY small 9223372036854775807
      INCRBY small 9223372036854775807
      INCRBY small 9223372036854775807
      SET x 10
      DECRBY x -9223372036854775808
      DECRBY x 9223372036854775807
      INCRBY x 9223372036854775808
      INCRBY x -9223372036854775809
      INCRBY x abc
      INCRBY x 1.5
      INCRBY x ""
      INCRBY x " 1"
      INCRBY x "1 "
      INCRBY x 01
      INCRBY x +1
      INCRBY x -0
      INCRBY x 1e3
      INCRBY x 0x10
      SET s abc
      INCR s
      SET s " 1"
      INCR s
      SET s "1 "
      INCR s
      SET s 01
      INCR s
      SET s ""
      INCR s
      SET s 1.0
      INCR s
      SET s -0
      DECR s
      SET s "1\x00"
      INCR s
      SET s 99999999999999999999
      INCR s
      SET s -9007199254740993
      INCRBY s -1
      INCRBY s2 9007199254740993
      INCR s2
      SET m 123456789012345678
      INCR m
      SET e 5 EX 100
      INCR e
      TTL e
      INCRBY e 5
      TTL e
      INCR
      INCR a b
      INCRBY a
      HSET h f 1
      INCR h
      DECR h
      INCRBY h 1
      DECRBY h 1
      INCRBY h abc
    `));

  it("INCRBYFLOAT", () =>
    run("incrbyfloat", String.raw`
      INCRBYFLOAT f 10.5
      INCRBYFLOAT f 0.1
      INCRBYFLOAT f -5
      INCRBYFLOAT f 1e3
      INCRBYFLOAT f "5.0e3"
      INCRBYFLOAT f 5.0E3
      GET f
      SET f 3.0e3
      INCRBYFLOAT f 2e-2
      GET f
      SET z 0.1
      INCRBYFLOAT z 0.2
      INCRBYFLOAT z -0.3
      INCRBYFLOAT z -0
      INCRBYFLOAT nz -0
      INCRBYFLOAT w 1.0
      INCRBYFLOAT w 3.0e3
      INCRBYFLOAT w 0.00000000000000001
      INCRBYFLOAT w 1e-17
      INCRBYFLOAT tiny 1e-20
      INCRBYFLOAT tiny2 -1e-300
      INCRBYFLOAT g 1e308
      INCRBYFLOAT g 1e308
      GET g
      INCRBYFLOAT h1 1.7976931348623157e308
      INCRBYFLOAT h1 1.7976931348623157e308
      INCRBYFLOAT h2 1e4000
      INCRBYFLOAT h2 -1e4000
      INCRBYFLOAT h3 1e4932
      INCRBYFLOAT h3 1e4932
      INCRBYFLOAT h4 1e5000
      INCRBYFLOAT h4 1e-5000
      INCRBYFLOAT h4 1e-400
      INCRBYFLOAT x inf
      INCRBYFLOAT x -inf
      INCRBYFLOAT x +inf
      INCRBYFLOAT x infinity
      INCRBYFLOAT x nan
      INCRBYFLOAT x abc
      INCRBYFLOAT x ""
      INCRBYFLOAT x " 1"
      INCRBYFLOAT x "1 "
      INCRBYFLOAT x 1.
      INCRBYFLOAT x .5
      INCRBYFLOAT x +.5e1
      INCRBYFLOAT x 0x10
      INCRBYFLOAT x 0x1p-2
      INCRBYFLOAT x 1e
      INCRBYFLOAT x 1,5
      INCRBYFLOAT x "1\x00"
      GET x
      SET i9 9223372036854775807
      INCRBYFLOAT i9 1
      INCRBYFLOAT i9 -9223372036854775808.5
      SET s abc
      INCRBYFLOAT s 1
      SET s inf
      INCRBYFLOAT s 1
      SET s " 1"
      INCRBYFLOAT s 1
      SET s 1e5000
      INCRBYFLOAT s 1
      SET t 5 EX 100
      INCRBYFLOAT t 1.5
      TTL t
      INCRBYFLOAT
      INCRBYFLOAT a
      INCRBYFLOAT a 1 2
      HSET h f 1
      INCRBYFLOAT h 1
      INCRBYFLOAT h abc
    `));

  it("APPEND and STRLEN", () =>
    run("append", String.raw`
      APPEND ap hello
      APPEND ap " world"
      GET ap
      STRLEN ap
      APPEND ap ""
      STRLEN nokey
      APPEND empty ""
      GET empty
      STRLEN empty
      SET num 123
      APPEND num 4
      GET num
      INCR num
      SET t v EX 100
      APPEND t w
      TTL t
      APPEND bin "\x00\xff"
      APPEND bin "\r\n"
      GET bin
      STRLEN bin
      APPEND
      APPEND a
      STRLEN
      STRLEN a b
      HSET h f v
      APPEND h x
      STRLEN h
    `));

  it("GETRANGE and SUBSTR", () =>
    run("getrange", String.raw`
      SET gr "This is a string"
      GETRANGE gr 0 3
      GETRANGE gr -3 -1
      GETRANGE gr 0 -1
      GETRANGE gr 10 100
      GETRANGE gr 5 3
      GETRANGE gr -100 -50
      GETRANGE gr -1 -100
      GETRANGE gr -100 100
      GETRANGE gr -100 2
      GETRANGE gr 100 200
      GETRANGE gr 0 0
      GETRANGE gr -1 -1
      GETRANGE gr 15 15
      GETRANGE gr 16 16
      GETRANGE gr 15 -1
      GETRANGE gr 3 -20
      GETRANGE gr 9223372036854775807 9223372036854775807
      GETRANGE gr -9223372036854775808 9223372036854775807
      GETRANGE gr -9223372036854775807 -9223372036854775808
      GETRANGE gr -9223372036854775808 -9223372036854775807
      GETRANGE gr 0 9223372036854775808
      GETRANGE gr a 1
      GETRANGE gr 0 b
      GETRANGE gr 1.5 2
      GETRANGE gr "" 2
      GETRANGE nokey 0 -1
      GETRANGE nokey 5 1
      GETRANGE nokey a b
      SET emp ""
      GETRANGE emp 0 -1
      GETRANGE emp 0 0
      GETRANGE emp -1 0
      SET int 12345
      GETRANGE int 1 2
      GETRANGE int -2 -1
      SUBSTR gr 0 3
      SUBSTR gr -3 -1
      SUBSTR gr 5 3
      SUBSTR gr x 3
      SUBSTR nokey 0 1
      GETRANGE gr 0
      GETRANGE gr 0 1 2
      SUBSTR gr 0
      HSET h f v
      GETRANGE h 0 1
      SUBSTR h 0 1
      GETRANGE h x 1
    `));

  it("SETRANGE", () =>
    run("setrange", String.raw`
      SET sr "Hello World"
      SETRANGE sr 6 Redis
      GET sr
      SETRANGE sr 0 J
      GET sr
      SETRANGE sr 11 !
      GET sr
      SETRANGE sr 15 end
      GET sr
      STRLEN sr
      SETRANGE srn 5 x
      GET srn
      SETRANGE srn2 0 ""
      GET srn2
      SETRANGE srn3 100 ""
      GET srn3
      SETRANGE sr 100 ""
      SETRANGE sr 0 ""
      SETRANGE sr -1 x
      SETRANGE sr -1 ""
      SETRANGE nokey -1 x
      SETRANGE sr abc x
      SETRANGE sr 1.5 x
      SETRANGE sr 9223372036854775808 x
      SETRANGE sr 9223372036854775807 x
      SETRANGE sr 9223372036854775807 ""
      SETRANGE sr 16777216 x
      SETRANGE sr 16777215 xy
      SETRANGE nokey 16777216 x
      SETRANGE nokey 16777216 ""
      GET nokey
      SET num 12345
      SETRANGE num 1 x
      GET num
      SET t v EX 100
      SETRANGE t 0 w
      TTL t
      SETRANGE
      SETRANGE a 0
      SETRANGE a 0 x y
      HSET h f v
      SETRANGE h 0 x
      SETRANGE h 0 ""
      SETRANGE h -1 x
      SETRANGE h x x
    `));

  it("values at proto-max-bulk-len", () =>
    run("limits", String.raw`
      SETRANGE big 16777215 x
      STRLEN big
      GETRANGE big 16777214 -1
      GETRANGE big 0 3
      APPEND big y
      SETRANGE big 16777215 yz
      SETRANGE big 16777215 z
      GETRANGE big -2 -1
      STRLEN big
      SET big a
      SETRANGE big2 16777200 0123456789abcdef
      APPEND big2 g
      GETRANGE big2 16777210 -1
      SET big2 a
    `));

  it("LCS", () =>
    run("lcs", String.raw`
      MSET key1 ohmytext key2 mynewtext
      LCS key1 key2
      LCS key1 key2 LEN
      LCS key1 key2 len
      LCS key1 key2 IDX
      LCS key1 key2 IDX MINMATCHLEN 4
      LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN
      LCS key1 key2 IDX WITHMATCHLEN
      LCS key1 key2 idx withmatchlen minmatchlen 2
      LCS key1 key2 IDX MINMATCHLEN -5
      LCS key1 key2 IDX MINMATCHLEN 0
      LCS key1 key2 IDX MINMATCHLEN 100
      LCS key1 key2 IDX IDX
      LCS key1 key2 LEN LEN
      LCS key1 key2 WITHMATCHLEN
      LCS key1 key2 MINMATCHLEN 3
      LCS key1 key2 LEN MINMATCHLEN 3
      LCS key1 key2 LEN IDX
      LCS key1 key2 IDX LEN
      LCS key1 key2 FOO
      LCS key1 key2 MINMATCHLEN
      LCS key1 key2 MINMATCHLEN abc
      LCS key1 key2 MINMATCHLEN 1.5
      LCS key2 key1
      LCS key2 key1 IDX WITHMATCHLEN
      LCS key1 key1
      LCS key1 key1 IDX WITHMATCHLEN
      LCS key1 nokey
      LCS nokey key1 IDX
      LCS nokey nokey2
      LCS nokey nokey2 LEN
      LCS nokey nokey2 IDX
      MSET a1 ABCBDAB b1 BDCABA
      LCS a1 b1
      LCS a1 b1 IDX WITHMATCHLEN
      MSET a2 "\x00\xff\x00" b2 "\xff\x00"
      LCS a2 b2
      LCS a2 b2 IDX
      MSET a3 abcdefghijklmnopqrstuvwxyz b3 xxabcxxdefxxghixxxxxxxxxxxxxxxxxxxxyz
      LCS a3 b3 IDX WITHMATCHLEN
      LCS a3 b3 IDX MINMATCHLEN 3
      LCS key1
      LCS
      HSET h f v
      LCS key1 h
      LCS h key1
      LCS h key1 FOO
      LCS h nokey LEN IDX
    `));

  it("commands inside MULTI/EXEC", () =>
    run("multi", String.raw`
      MULTI
      SET m 1
      INCR m
      INCRBYFLOAT m 0.5
      APPEND m x
      GETRANGE m 0 -1
      INCR m
      SET m v EX 0
      GETDEL m
      MGET m
      EXEC
    `));
});
