/**
 * Differential tests of the connection and server commands against
 * redis-server 7.0, in RESP2 and RESP3: CONFIG GET/SET, COMMAND INFO/DOCS/
 * GETKEYS/LIST, DBSIZE/FLUSHDB/FLUSHALL/SWAPDB/SELECT, HELLO, AUTH, CLIENT,
 * INFO, FUNCTION FLUSH.
 *
 * All runs share one redis-server, so every script that changes a config
 * parameter sets it back before it ends.
 */
import { describe, expect, it } from "vitest";
import type { Reply } from "../../shared/resp/reply";
import { parseScript, runDifferential, useDifferentialServers } from "../support/differential";
import { decodeReply, RespTcpClient, RespWsClient, type RespClient } from "../support/resp-client";

const run = (name: string, script: string, protocols: (2 | 3)[] = [2, 3]) =>
  runDifferential(`server-${name}`, parseScript(script, name), { protocols });

describe("connection and server commands vs redis-server", () => {
  const servers = useDifferentialServers();

  it("CONFIG GET and SET: round trips, parsing and errors", () =>
    run("config", String.raw`
      CONFIG GET maxmemory
      CONFIG SET maxmemory 10mb
      CONFIG GET maxmemory
      CONFIG SET maxmemory 1k
      CONFIG GET maxmemory
      CONFIG SET maxmemory 1KB
      CONFIG GET maxmemory
      CONFIG SET maxmemory -1
      CONFIG SET maxmemory 1.5mb
      CONFIG SET maxmemory 10xb
      CONFIG SET maxmemory 0
      CONFIG GET maxmemory
      CONFIG GET HZ
      CONFIG GET hz HZ
      CONFIG SET hz 1000000
      CONFIG GET hz
      CONFIG SET hz abc
      CONFIG SET hz +5
      CONFIG SET hz 05
      CONFIG SET hz -5
      CONFIG SET hz 99999999999999999999
      CONFIG SET HZ abc
      CONFIG SET hz 10
      CONFIG GET hz
      CONFIG SET foo bar
      CONFIG SET hz 10 hz 11
      CONFIG SET hz 10 HZ 11
      CONFIG SET databases 3
      CONFIG SET databases 3 foo bar
      CONFIG SET hz 12 appendonly maybe
      CONFIG GET hz
      CONFIG SET lazyfree-lazy-user-del YES
      CONFIG GET lazyfree-lazy-user-del
      CONFIG SET lazyfree-lazy-user-del no
      CONFIG SET maxmemory-policy foo
      CONFIG SET maxmemory-policy ALLKEYS-LRU
      CONFIG GET maxmemory-policy
      CONFIG SET maxmemory-policy noeviction
      CONFIG SET hash-max-ziplist-entries abc
      CONFIG SET HASH-MAX-ZIPLIST-ENTRIES abc
      CONFIG SET hash-max-listpack-entries -1
      CONFIG SET hash-max-ziplist-entries 100 hash-max-listpack-entries 200
      CONFIG GET hash-max-listpack-entries
      CONFIG GET hash-max-ziplist-entries
      CONFIG SET hash-max-listpack-entries 512
      CONFIG SET hash-max-listpack-value 1kb
      CONFIG GET hash-max-listpack-value
      CONFIG SET hash-max-listpack-value 64
      CONFIG SET list-max-listpack-size -2147483648
      CONFIG GET list-max-ziplist-size
      CONFIG SET list-max-listpack-size -2
      CONFIG SET maxclients 0
      CONFIG SET slowlog-max-len -1
      CONFIG SET repl-backlog-size 0
      CONFIG SET maxmemory-samples 0
      CONFIG SET loglevel nothing
      CONFIG SET dir /tmp
      CONFIG SET dbfilename x.rdb
      CONFIG SET notify-keyspace-events Q
      CONFIG SET notify-keyspace-events gE$x
      CONFIG GET notify-keyspace-events
      CONFIG SET notify-keyspace-events KEA
      CONFIG GET notify-keyspace-events
      CONFIG SET notify-keyspace-events ""
      CONFIG GET notify-keyspace-events
      CONFIG SET save "1 2 3"
      CONFIG SET save "a 2"
      CONFIG SET save "-1 2"
      CONFIG SET save "3600 1 300 100"
      CONFIG GET save
      CONFIG SET save ""
      CONFIG GET save
      CONFIG SET client-output-buffer-limit "normal 1"
      CONFIG SET client-output-buffer-limit "foo 1 2 3"
      CONFIG SET client-output-buffer-limit "normal a 2 3"
      CONFIG SET client-output-buffer-limit "replica 1mb 2 3"
      CONFIG GET client-output-buffer-limit
      CONFIG SET client-output-buffer-limit "slave 268435456 67108864 60"
      CONFIG GET client-output-buffer-limit
      CONFIG GET requirepass
      CONFIG GET nothing*
      CONFIG GET lazyfree* ~pairs
      CONFIG GET zset-max-* ~pairs
      CONFIG GET maxclients timeout tcp-keepalive databases maxmemory-policy ~pairs
      CONFIG GET
      CONFIG SET hz
      CONFIG SET hz 10 foo
      CONFIG RESETSTAT x
      CONFIG REWRITE
      CONFIG REWRITE x
      CONFIG HELP
      CONFIG FOO
      CONFIG
    `));

  it("COMMAND INFO and COMMAND DOCS, byte for byte", () =>
    run("command-info", String.raw`
      COMMAND INFO get
      COMMAND INFO GET set hset expire
      COMMAND INFO get nosuch
      COMMAND INFO config|get
      COMMAND INFO CONFIG|SET
      COMMAND INFO config|resetstat config|rewrite config|help
      COMMAND INFO config|foo
      COMMAND INFO get|foo
      COMMAND INFO config|get|x
      COMMAND INFO function|flush
      COMMAND DOCS get
      COMMAND DOCS set
      COMMAND DOCS hset expire
      COMMAND DOCS config|get config|set
      COMMAND DOCS function|flush
      COMMAND DOCS nosuch
      COMMAND DOCS get nosuch set
      COMMAND COUNT ~type
      COMMAND COUNT x
      COMMAND ~type
      COMMAND INFO ~type
      COMMAND DOCS ~type
      COMMAND LIST ~type
      COMMAND LIST FILTERBY PATTERN config* ~unordered
      COMMAND LIST FILTERBY PATTERN CONFIG|G* ~unordered
      COMMAND LIST FILTERBY ACLCAT nosuch
      COMMAND LIST FILTERBY MODULE foo
      COMMAND LIST FILTERBY FOO x
      COMMAND LIST FILTERBY PATTERN
      COMMAND LIST FILTERBY PATTERN a b
      COMMAND LIST foo
      COMMAND HELP
      COMMAND HELP x
      COMMAND FOO
    `));

  it("COMMAND GETKEYS and GETKEYSANDFLAGS", () =>
    run("command-getkeys", String.raw`
      COMMAND GETKEYS GET a
      COMMAND GETKEYS get a
      COMMAND GETKEYS SET a b
      COMMAND GETKEYS MSET a 1 b 2
      COMMAND GETKEYS MSET a 1 b
      COMMAND GETKEYS DEL a b c
      COMMAND GETKEYS RENAME a a
      COMMAND GETKEYS HSET h f v
      COMMAND GETKEYS EXPIRE k 10
      COMMAND GETKEYSANDFLAGS SET a b
      COMMAND GETKEYSANDFLAGS SET a b GET
      COMMAND GETKEYSANDFLAGS SET a b EX 10 get
      COMMAND GETKEYSANDFLAGS RENAME a b
      COMMAND GETKEYSANDFLAGS COPY a b
      COMMAND GETKEYSANDFLAGS GET a
      COMMAND GETKEYS
      COMMAND GETKEYS GET
      COMMAND GETKEYS GET a b
      COMMAND GETKEYS SET a
      COMMAND GETKEYS NOSUCH a
      COMMAND GETKEYS PING x
      COMMAND GETKEYS CONFIG GET x
      COMMAND GETKEYS CONFIG FOO x
      COMMAND GETKEYSANDFLAGS PING x
      COMMAND GETKEYSANDFLAGS NOSUCH a
    `));

  it("DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT, TIME, LASTSAVE, SAVE, FUNCTION FLUSH", () =>
    run("keyspace", String.raw`
      DBSIZE
      SET a 1
      SET b 2
      DBSIZE
      DBSIZE x
      SELECT 1
      DBSIZE
      SET c 3
      SWAPDB 0 1
      DBSIZE
      GET c
      GET a
      SELECT 0
      GET c
      DBSIZE
      SWAPDB 0 0
      SWAPDB a 1
      SWAPDB 1 a
      SWAPDB 0 16
      SWAPDB 16 0
      SWAPDB -1 0
      SWAPDB 99999999999 1
      SWAPDB 1 99999999999
      SWAPDB 0
      SWAPDB 0 1 2
      FLUSHDB x
      FLUSHDB sync x
      FLUSHDB ASYNC
      DBSIZE
      SELECT 1
      DBSIZE
      FLUSHALL SYNC
      DBSIZE
      FLUSHALL a b
      FLUSHALL foo
      FLUSHALL
      SELECT abc
      SELECT 99999999999
      SELECT 16
      SELECT -1
      SELECT 1.5
      SELECT
      SELECT 15
      SELECT 0
      TIME ~type
      TIME x
      LASTSAVE ~type
      LASTSAVE x
      SAVE
      SAVE x
      BGSAVE foo
      BGSAVE a b
      FUNCTION FLUSH
      FUNCTION FLUSH async
      FUNCTION FLUSH SYNC
      FUNCTION FLUSH foo
      FUNCTION FLUSH a b
      MULTI
      FLUSHDB
      SWAPDB 0 1
      SAVE
      EXEC
    `));

  it("HELLO, AUTH, PING, ECHO, RESET, QUIT", () =>
    run("hello", String.raw`
      PING
      PING hello
      PING a b
      ECHO x
      ECHO
      HELLO 4
      HELLO 1
      HELLO -1
      HELLO abc
      HELLO 3.0
      HELLO 2 FOO
      HELLO 2 AUTH
      HELLO 2 AUTH default
      HELLO 2 SETNAME
      HELLO 2 SETNAME "a b"
      HELLO 3 AUTH foo x
      HELLO 3 SETNAME ok FOO
      CLIENT GETNAME
      HELLO ~type
      GET missing
      HELLO 3 AUTH default whatever ~type
      GET missing
      HELLO ~type
      HELLO 2 ~type
      GET missing
      AUTH x
      AUTH default x
      AUTH foo x
      AUTH a b c
      AUTH
      RESET
      GET missing
      CLIENT GETNAME
      QUIT
    `));

  it("CLIENT subcommands and their errors", () =>
    run("client", String.raw`
      CLIENT SETNAME "a b"
      CLIENT SETNAME "x\ny"
      CLIENT SETNAME "\x7f"
      CLIENT SETNAME ok-name
      CLIENT GETNAME
      CLIENT SETNAME ""
      CLIENT GETNAME
      CLIENT SETNAME x y
      CLIENT GETNAME x
      CLIENT ID ~type
      CLIENT ID x
      CLIENT INFO ~type
      CLIENT INFO x
      CLIENT LIST ~type
      CLIENT LIST TYPE normal ~type
      CLIENT LIST TYPE pubsub
      CLIENT LIST TYPE foo
      CLIENT LIST ID abc
      CLIENT LIST ID 999999
      CLIENT LIST ID
      CLIENT LIST foo
      CLIENT LIST TYPE normal x
      CLIENT KILL ID abc
      CLIENT KILL ID 0
      CLIENT KILL ID -1
      CLIENT KILL ID 999999
      CLIENT KILL 10.1.2.3:5
      CLIENT KILL USER bob
      CLIENT KILL TYPE foo
      CLIENT KILL SKIPME maybe
      CLIENT KILL ADDR 10.1.2.3:5
      CLIENT KILL LADDR 10.1.2.3:5
      CLIENT KILL ID 999999 SKIPME yes
      CLIENT KILL a b c
      CLIENT KILL ID
      CLIENT KILL
      CLIENT UNBLOCK 1 foo
      CLIENT UNBLOCK abc
      CLIENT UNBLOCK 999999
      CLIENT UNBLOCK 999999 ERROR
      CLIENT UNBLOCK 1 timeout x
      CLIENT PAUSE abc
      CLIENT PAUSE -1
      CLIENT PAUSE 10 foo
      CLIENT PAUSE 10 ALL x
      CLIENT PAUSE 0
      CLIENT UNPAUSE
      CLIENT UNPAUSE x
      CLIENT GETREDIR
      CLIENT TRACKINGINFO
      CLIENT NO-EVICT maybe
      CLIENT NO-EVICT on
      CLIENT NO-EVICT OFF
      CLIENT NO-EVICT
      CLIENT HELP
      CLIENT FOO
      CLIENT
    `));

  it("INFO", () =>
    run("info", String.raw`
      INFO ~type
      INFO server ~type
      INFO all ~type
      INFO everything ~type
      INFO default ~type
      INFO foo
      INFO cluster
      INFO CLUSTER keyspace cluster
      INFO modules
      INFO keyspace
      SET a 1
      SELECT 2
      SET b 1
      SET c 2
      INFO keyspace
      INFO keyspace cluster foo
      SET d 1 EX 100
      INFO keyspace ~type
      INFO stats ~type
      INFO commandstats ~type
      INFO errorstats ~type
      INFO replication ~type
    `));

  /**
   * Redis lists a container's subcommands in the order of a hash table seeded
   * at random when it starts, so two redis-servers disagree with each other on
   * that order: compare COMMAND INFO/DOCS CONFIG with subcommands sorted by
   * name, everything else (types included) exactly.
   */
  it("COMMAND INFO and DOCS of a container, subcommands in any order", async () => {
    for (const protocol of [2, 3] as const) {
      const redis: RespClient = new RespTcpClient(servers.redis.port);
      const tidekv: RespClient = new RespWsClient(servers.tidekv.wsUrl(`/node/server-diff-container-${protocol}-${Date.now().toString(36)}`));
      await redis.connect();
      await tidekv.connect();
      try {
        for (const client of [redis, tidekv]) if (protocol === 3) await client.command("HELLO", "3");
        for (const argv of [["COMMAND", "INFO", "config"], ["COMMAND", "DOCS", "config"], ["COMMAND", "DOCS", "CONFIG", "get"]]) {
          const expected = canonical(decodeReply(await redis.commandRaw(...argv)));
          const actual = canonical(decodeReply(await tidekv.commandRaw(...argv)));
          expect(actual, `${argv.join(" ")} (RESP${protocol})`).toEqual(expected);
        }
      } finally {
        await Promise.all([redis.close(), tidekv.close()]);
      }
    }
  });

  // Last: redis-server forks for BGSAVE, and a SAVE while that child runs would fail.
  it("BGSAVE", () =>
    run("bgsave", String.raw`
      BGSAVE
    `, [2]));
});

const textDecoder = new TextDecoder();

/**
 * A reply as a plain value keeping its RESP type, with the subcommand lists
 * of COMMAND INFO entries (element 9) and of COMMAND DOCS maps ("subcommands")
 * sorted by name.
 */
function canonical(reply: Reply): unknown {
  switch (reply.type) {
    case "bulk":
    case "verbatim":
      return { [reply.type]: textDecoder.decode(reply.value) };
    case "simple":
    case "error":
    case "integer":
    case "double":
    case "boolean":
    case "bignum":
      return { [reply.type]: String(reply.value) };
    case "null":
    case "nullarray":
      return { [reply.type]: null };
    case "array":
    case "set":
    case "push": {
      let items = reply.value.map(canonical);
      // A COMMAND INFO entry: [name, arity, ..., subcommands]; its subcommands sorted by name.
      if (reply.type === "array" && reply.value.length === 10 && reply.value[0].type === "bulk" && reply.value[1].type === "integer") {
        const subs = reply.value[9];
        if (subs.type === "array") items[9] = { array: sortBy(subs.value.map(canonical), (e) => JSON.stringify((e as { array: unknown[] }).array[0])) };
      }
      // RESP2 flattens maps: a DOCS map's "subcommands" value is a flat [name, docs, ...] list.
      if (reply.type === "array") {
        for (let i = 0; i + 1 < reply.value.length; i += 2) {
          const key = reply.value[i];
          const value = reply.value[i + 1];
          if (key.type === "bulk" && textDecoder.decode(key.value) === "subcommands" && value.type === "array" && value.value[0]?.type === "bulk") {
            const pairs: unknown[][] = [];
            for (let j = 0; j < value.value.length; j += 2) pairs.push([canonical(value.value[j]), canonical(value.value[j + 1])]);
            items[i + 1] = { array: sortBy(pairs, (p) => JSON.stringify(p[0])).flat() };
          }
        }
      }
      return { [reply.type]: items };
    }
    case "map": {
      const entries = reply.value.map(([k, v]) => {
        const key = canonical(k);
        if (k.type === "bulk" && textDecoder.decode(k.value) === "subcommands" && v.type === "map") {
          const pairs: unknown[][] = v.value.map(([sk, sv]) => [canonical(sk), canonical(sv)]);
          return [key, { map: sortBy(pairs, (p) => JSON.stringify(p[0])) }];
        }
        return [key, canonical(v)];
      });
      return { map: entries };
    }
  }
}

function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
