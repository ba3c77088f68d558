/**
 * Sorted-set commands (Redis 7.0 t_zset.c), on SQL.
 *
 * Storage: one row per member in `zset_members(key_id, member, score)`
 * (primary key (key_id, member)) plus the index `zset_by_score(key_id, score,
 * member)`. The key's `count` column is the member count (ZCARD is O(1)); it
 * is kept by Keyspace.createCollection / updateCount, and updateCount deletes
 * the key when its last member goes, as Redis deletes empty sorted sets.
 *
 * The commands live in sorted-set/:
 *   store.ts        the SQL statements (single members, ordered walks, ranks)
 *   blocks.ts       counted blocks of the score order (ranks in O(sqrt n))
 *   parse.ts        score/lex ranges, integers, blocking timeouts (Redis grammars and errors)
 *   members.ts      ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK
 *   range.ts        ZRANGE and relatives, ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBY*
 *   pop.ts          ZPOPMIN/MAX, ZMPOP, BZPOPMIN/MAX, BZMPOP
 *   setops.ts       ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD
 *   random-scan.ts  ZRANDMEMBER, ZSCAN
 *   writer.ts       storing a computed set into a destination key
 *   encoding.ts     OBJECT ENCODING (listpack / skiplist)
 *
 * Costs: ZADD/ZSCORE/ZREM/ZMSCORE/ZINCRBY are primary-key statements plus
 * one block count; pops and ranges by score are index ranges; ranks (ZRANK,
 * ZRANGE and ZREMRANGEBYRANK by rank) read near an end by OFFSET and
 * elsewhere through the counted blocks, O(sqrt n) (SQLite b-trees keep no
 * subtree counts); ZCOUNT/ZLEXCOUNT count index rows on small sets and
 * subtract two ranks on large ones.
 */
import { KeyType } from "../engine/keyspace.ts";
import { registerObjectEncoding } from "./generic.ts";
import type { HandlerTable } from "./spec.ts";
import { zsetEncoding } from "./sorted-set/encoding.ts";
import { zaddGeneric, zcard, zmscore, zrank, zrem, zscore } from "./sorted-set/members.ts";
import { bzmpop, bzpop, zmpop, zpop } from "./sorted-set/pop.ts";
import { zrandmember, zscan } from "./sorted-set/random-scan.ts";
import { zcount, zlexcount, zrangeGeneric, zremrange } from "./sorted-set/range.ts";
import { setOperation } from "./sorted-set/setops.ts";

export { zsetEncoding } from "./sorted-set/encoding.ts";
export { ZSET_ELEMENT_MAX } from "./sorted-set/store.ts";

registerObjectEncoding(KeyType.zset, (call, record) => zsetEncoding(record, call.server.config, call.server.sql));

export const sortedSetCommands: HandlerTable = {
  zadd: (call) => zaddGeneric(call, false),
  zincrby: (call) => zaddGeneric(call, true),
  zrem: zrem,
  zcard: zcard,
  zscore: zscore,
  zmscore: zmscore,
  zrank: (call) => zrank(call, false),
  zrevrank: (call) => zrank(call, true),

  zcount: zcount,
  zlexcount: zlexcount,
  zrange: (call) => zrangeGeneric(call, 1, false, "auto", "auto"),
  zrangestore: (call) => zrangeGeneric(call, 2, true, "auto", "auto"),
  zrevrange: (call) => zrangeGeneric(call, 1, false, "rank", "reverse"),
  zrangebyscore: (call) => zrangeGeneric(call, 1, false, "score", "forward"),
  zrevrangebyscore: (call) => zrangeGeneric(call, 1, false, "score", "reverse"),
  zrangebylex: (call) => zrangeGeneric(call, 1, false, "lex", "forward"),
  zrevrangebylex: (call) => zrangeGeneric(call, 1, false, "lex", "reverse"),
  zremrangebyrank: (call) => zremrange(call, "rank"),
  zremrangebyscore: (call) => zremrange(call, "score"),
  zremrangebylex: (call) => zremrange(call, "lex"),

  zpopmin: (call) => zpop(call, "min"),
  zpopmax: (call) => zpop(call, "max"),
  zmpop: zmpop,
  bzpopmin: (call) => bzpop(call, "min"),
  bzpopmax: (call) => bzpop(call, "max"),
  bzmpop: bzmpop,

  zunion: (call) => setOperation(call, "union", 1, null),
  zinter: (call) => setOperation(call, "inter", 1, null),
  zdiff: (call) => setOperation(call, "diff", 1, null),
  zunionstore: (call) => setOperation(call, "union", 2, call.argv[1]),
  zinterstore: (call) => setOperation(call, "inter", 2, call.argv[1]),
  zdiffstore: (call) => setOperation(call, "diff", 2, call.argv[1]),
  zintercard: (call) => setOperation(call, "inter", 1, null, true),

  zrandmember: zrandmember,
  zscan: zscan,
};
