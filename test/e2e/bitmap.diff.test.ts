/**
 * Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
 * BITFIELD_RO) against redis-server 7.0, in RESP2 and RESP3: every option,
 * edge cases of ranges and offsets, overflow modes, and errors.
 *
 * redis-server runs with proto-max-bulk-len 16mb, tidekv's default, so the
 * offset limits can be compared too.
 */
import { describe, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers } from "../support/differential";

const run = (name: string, script: string) => runDifferential(`bitmap-${name}`, parseScript(script, name), { protocols: [2, 3] });

describe("bitmap commands vs redis-server", () => {
  useDifferentialServers({ redisArgs: ["--proto-max-bulk-len", "16mb"] });

  it("SETBIT and GETBIT", () =>
    run("setbit-getbit", String.raw`
      SETBIT b 7 1
      GET b
      SETBIT b 7 1
      SETBIT b 7 0
      GET b
      SETBIT b 0 1
      SETBIT b 100 1
      GET b
      STRLEN b
      GETBIT b 0
      GETBIT b 1
      GETBIT b 100
      GETBIT b 101
      GETBIT b 1000000
      GETBIT nokey 5
      SETBIT z 20 0
      GET z
      SETBIT b -1 1
      SETBIT b abc 1
      SETBIT b 1.5 1
      SETBIT b "" 1
      SETBIT b 0 2
      SETBIT b 0 -1
      SETBIT b 0 x
      SETBIT b 0 ""
      SETBIT b 134217728 1
      SETBIT b 9223372036854775807 1
      SETBIT b 9223372036854775808 1
      GETBIT b -1
      GETBIT b 134217728
      GETBIT b x
      SETBIT b 0
      SETBIT b
      GETBIT b
      GETBIT b 1 2
      RPUSH list a
      SETBIT list 0 1
      GETBIT list 0
      SETBIT list x 1
      SET num 12345
      GETBIT num 2
      SETBIT num 2 0
      GET num
      SET ttl abc EX 100
      SETBIT ttl 0 1
      TTL ttl ~type
      GET ttl
      SET "\x00" "\xff\x00"
      SETBIT "\x00" 9 1
      GET "\x00"
      TYPE b
    `));

  it("SETBIT at the last offset of a 16 MiB string", () =>
    run("setbit-large", String.raw`
      SETBIT big 134217727 1
      STRLEN big
      GETBIT big 134217727
      GETBIT big 134217726
      SETBIT big 67108864 1
      SETBIT big 67108864 1
      SETBIT big 8388608 1
      BITCOUNT big
      BITCOUNT big 1048575 1048577
      BITCOUNT big 8388608 16777215 BIT
      BITPOS big 1
      BITPOS big 1 1048577
      BITPOS big 0
      BITPOS big 1 -1
      BITPOS big 0 -1
      BITPOS big 1 8388609 134217727 BIT
      GETRANGE big 1048575 1048576
      SETBIT big 134217728 1
      BITOP NOT nbig big
      STRLEN nbig
      BITCOUNT nbig
      BITPOS nbig 0
      BITOP AND both big nbig
      BITCOUNT both
      DEL big nbig both
    `));

  it("BITCOUNT", () =>
    run("bitcount", String.raw`
      SET s foobar
      BITCOUNT s
      BITCOUNT s 0 0
      BITCOUNT s 1 1
      BITCOUNT s 1 -1
      BITCOUNT s -2 -1
      BITCOUNT s -100 100
      BITCOUNT s 3 1
      BITCOUNT s 100 200
      BITCOUNT s -1 -2
      BITCOUNT s -1 -2 whatever
      BITCOUNT s 5 30 BIT
      BITCOUNT s 0 0 BIT
      BITCOUNT s 0 7 BIT
      BITCOUNT s 1 14 bit
      BITCOUNT s -10 -3 BIT
      BITCOUNT s 40 47 BIT
      BITCOUNT s 47 40 BIT
      BITCOUNT s 0 1000 BIT
      BITCOUNT s 1 2 BYTE
      BITCOUNT s 1 2 byte
      BITCOUNT s 1 2 bits
      BITCOUNT s 1
      BITCOUNT s 1 2 BIT extra
      BITCOUNT s a 1
      BITCOUNT s 1 b
      BITCOUNT s 9223372036854775807 -9223372036854775808
      BITCOUNT s -9223372036854775808 9223372036854775807
      BITCOUNT s -9223372036854775808 -9223372036854775807
      BITCOUNT s 9223372036854775808 1
      BITCOUNT nokey
      BITCOUNT nokey 0 1
      BITCOUNT nokey x y
      BITCOUNT nokey 1
      SET empty ""
      BITCOUNT empty
      BITCOUNT empty 0 -1
      BITCOUNT empty 0 -1 BIT
      SET n 255
      BITCOUNT n
      RPUSH list a
      BITCOUNT list
      BITCOUNT list x
      BITCOUNT
    `));

  it("BITPOS", () =>
    run("bitpos", String.raw`
      SET s "\xff\xf0\x00"
      BITPOS s 0
      BITPOS s 1
      BITPOS s 0 1
      BITPOS s 1 2
      BITPOS s 1 2 -1
      BITPOS s 0 0 0
      BITPOS s 0 0 1
      BITPOS s 1 -1
      BITPOS s 0 -1
      BITPOS s 0 5 10
      BITPOS s 1 3 1
      BITPOS s 0 2 100 BIT
      BITPOS s 0 0 11 BIT
      BITPOS s 0 0 12 BIT
      BITPOS s 1 12 23 BIT
      BITPOS s 1 7 7 BIT
      BITPOS s 0 7 7 BIT
      BITPOS s 0 3 5 bit
      BITPOS s 1 -5 -1 BIT
      BITPOS s 0 -20 -10 BIT
      BITPOS s 1 0 -1 BYTE
      BITPOS s 1 0 -1 byte
      BITPOS s 1 0 -1 bytes
      BITPOS s 1 0 -1 BIT extra
      SET ones "\xff\xff\xff"
      BITPOS ones 0
      BITPOS ones 0 1
      BITPOS ones 0 0 -1
      BITPOS ones 0 0 23 BIT
      BITPOS ones 1
      SET zeros "\x00\x00"
      BITPOS zeros 1
      BITPOS zeros 0
      BITPOS zeros 1 0 -1
      BITPOS zeros 0 10 15 BIT
      SET empty ""
      BITPOS empty 0
      BITPOS empty 1
      BITPOS empty 0 0
      BITPOS empty 0 0 -1
      BITPOS nokey 0
      BITPOS nokey 1
      BITPOS nokey 1 x
      BITPOS nokey 2
      BITPOS s 2
      BITPOS s -1
      BITPOS s x
      BITPOS s 1 x
      BITPOS s 1 0 x
      BITPOS s 1 9223372036854775808
      RPUSH list a
      BITPOS list 1
      BITPOS list 5
      BITPOS s
      SET n 12
      BITPOS n 1
      BITPOS n 0
    `));

  it("BITOP", () =>
    run("bitop", String.raw`
      SET a "\xff\x0f\xaa"
      SET b "\xf0\xff"
      SET c "\x01"
      BITOP AND dest a b c
      GET dest
      BITOP OR dest a b c
      GET dest
      BITOP XOR dest a b c
      GET dest
      BITOP NOT dest a
      GET dest
      BITOP and dest a nokey
      GET dest
      BITOP or dest nokey a
      GET dest
      BITOP XOR dest a a
      GET dest
      BITOP NOT dest nokey
      EXISTS dest
      SET dest x EX 100
      BITOP AND dest nokey1 nokey2
      EXISTS dest
      BITOP AND dest nokey1 nokey2
      SET dest x EX 100
      BITOP OR dest a
      TTL dest
      GET dest
      BITOP AND a a b
      GET a
      BITOP NOT a a
      GET a
      BITOP NOT dest a b
      BITOP NOT dest
      BITOP NAND dest a b
      BITOP "" dest a
      BITOP AND dest
      BITOP AND
      RPUSH list x
      BITOP OR dest a list
      BITOP OR dest nokey list
      BITOP OR list a
      TYPE list
      GET list
      SET n 123
      BITOP NOT dest n
      GET dest
      SET long "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
      SET long2 "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba!!"
      BITOP AND d long long2
      GET d
      BITOP OR d long long2 a
      GET d
      BITOP XOR d long long2 b
      GET d
    `));

  it("BITFIELD", () =>
    run("bitfield", String.raw`
      BITFIELD bf SET i8 0 100 GET i8 0 GET u4 0 GET i4 4
      GET bf
      BITFIELD bf INCRBY i8 0 100
      BITFIELD bf OVERFLOW SAT INCRBY i8 0 100
      BITFIELD bf OVERFLOW FAIL INCRBY i8 0 1
      BITFIELD bf OVERFLOW WRAP INCRBY i8 0 1
      BITFIELD bf INCRBY i8 0 -1 INCRBY i8 0 -300
      BITFIELD bf OVERFLOW SAT INCRBY i8 0 -300
      BITFIELD bf OVERFLOW FAIL INCRBY i8 0 -1 GET i8 0
      BITFIELD bf SET u8 8 255 GET u8 8 INCRBY u8 8 1 OVERFLOW SAT INCRBY u8 8 -5 INCRBY u8 8 10 INCRBY u8 8 1000
      BITFIELD bf OVERFLOW FAIL INCRBY u8 8 250 INCRBY u8 8 -300 OVERFLOW WRAP INCRBY u8 8 -300
      BITFIELD bf SET u8 8 -1
      BITFIELD bf OVERFLOW SAT SET u8 8 -1 SET u8 8 300 SET i8 0 200 SET i8 0 -200
      BITFIELD bf OVERFLOW FAIL SET u8 8 300 SET i8 0 -200 GET u8 8
      BITFIELD bf SET i64 0 -1 GET i64 0 GET u63 0 GET u63 1 GET i63 1
      BITFIELD bf SET i64 0 9223372036854775807 INCRBY i64 0 1 GET i64 0
      BITFIELD bf OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 9223372036854775807
      BITFIELD bf OVERFLOW FAIL SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807 INCRBY i64 0 1
      BITFIELD bf OVERFLOW WRAP SET u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -1
      BITFIELD bf OVERFLOW SAT INCRBY u63 0 -9223372036854775808 INCRBY u63 0 9223372036854775807
      BITFIELD bf SET u1 100 1 GET u1 100 GET u2 99 GET i2 99 GET i1 100
      BITFIELD bf SET u5 #3 17 GET u5 #3 GET u5 15 SET i16 #2 -2 GET i16 32
      BITFIELD bf GET u8 #0 GET u8 #1000000
      GET bf
      STRLEN bf
      BITFIELD bf SET u8 20 1 OVERFLOW WRAP INCRBY u3 23 9
      BITFIELD bf incrby U8 0 1
      BITFIELD bf get u8 0 get I8 0
      BITFIELD bf get u0 0
      BITFIELD bf get i0 0
      BITFIELD bf get u64 0
      BITFIELD bf get i65 0
      BITFIELD bf get x8 0
      BITFIELD bf get "" 0
      BITFIELD bf get u8 -1
      BITFIELD bf get u8 x
      BITFIELD bf get u8 #x
      BITFIELD bf get u8 #
      BITFIELD bf get u8 #-1
      BITFIELD bf get u8 134217728
      BITFIELD bf get u8 134217720
      BITFIELD bf get u8 #16777216
      BITFIELD bf get u8 #16777215
      BITFIELD bf get i64 #9223372036854775807
      BITFIELD bf set u8 0 x
      BITFIELD bf set u8 0 1.5
      BITFIELD bf set u8 0 9223372036854775808
      BITFIELD bf incrby u8 0
      BITFIELD bf overflow
      BITFIELD bf overflow foo get u8 0
      BITFIELD bf overflow sat
      BITFIELD bf foo
      BITFIELD bf get
      BITFIELD bf get u8
      BITFIELD bf get u8 0 set
      BITFIELD bf get u8 0 overflow wrap set u8 0 7 get u8 0 unknown
      GET bf
      BITFIELD bf
      BITFIELD nokey
      BITFIELD nokey GET u8 0 GET i16 100
      EXISTS nokey
      BITFIELD
      RPUSH list a
      BITFIELD list GET u8 0
      BITFIELD list SET u8 0 1
      BITFIELD list
      SET n 99
      BITFIELD n GET u8 0 SET u8 0 49
      GET n
      SET t abc EX 100
      BITFIELD t SET u8 0 65
      TTL t ~type
      GET t
    `));

  it("BITFIELD growth and OVERFLOW FAIL", () =>
    run("bitfield-growth", String.raw`
      BITFIELD g OVERFLOW FAIL INCRBY u2 0 5
      EXISTS g
      GET g
      BITFIELD g2 SET u8 40 0
      GET g2
      BITFIELD g2 SET u8 40 0
      BITFIELD g2 OVERFLOW FAIL INCRBY u8 100 300
      STRLEN g2
      BITFIELD g3 SET i5 #100 -3 GET i5 #100 GET u5 #100
      STRLEN g3
    `));

  it("BITFIELD_RO", () =>
    run("bitfield-ro", String.raw`
      SET r "\x81\x02\xff"
      BITFIELD_RO r GET u8 0 GET i8 0 GET u4 4 GET i24 0 GET u1 23 GET u16 #1 GET i8 100
      BITFIELD_RO r
      BITFIELD_RO nokey GET u8 0
      BITFIELD_RO r GET u8 0 SET u8 0 1
      BITFIELD_RO r INCRBY u8 0 1
      BITFIELD_RO r OVERFLOW SAT GET u8 0
      BITFIELD_RO r OVERFLOW bad GET u8 0
      BITFIELD_RO r SET u99 0 1
      BITFIELD_RO r SET u8 -1 1
      BITFIELD_RO r SET u8 0 x
      BITFIELD_RO r GET u8
      BITFIELD_RO r FOO
      RPUSH list a
      BITFIELD_RO list GET u8 0
      BITFIELD_RO list SET u8 0 1
      BITFIELD_RO
      GET r
    `));

  it("bitmap commands in MULTI", () =>
    run("multi", String.raw`
      MULTI
      SETBIT m 3 1
      BITFIELD m GET u8 0 INCRBY u8 0 300
      BITOP NOT m2 m
      BITCOUNT m2
      BITPOS m2 0
      BITFIELD_RO m2 GET u8 0
      GETBIT m 3
      EXEC
      GET m
      GET m2
    `));
});
