/**
 * Pops: ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking BZPOPMIN, BZPOPMAX, BZMPOP
 * (t_zset.c genericZpopCommand, blockingGenericZpopCommand,
 * zmpopGenericCommand). A pop reads the lowest (highest) entries from the
 * score index and deletes exactly that index range.
 *
 * Effects, as Redis 7.0 propagates them: ZPOPMIN/ZPOPMAX as called; ZMPOP
 * and BZMPOP as `ZPOPMIN|ZPOPMAX key <count popped>`; BZPOPMIN/BZPOPMAX as
 * `ZPOPMIN|ZPOPMAX key`, also when served after blocking (the engine re-runs
 * the command, which rewrites itself the same way).
 */
import { array, bulk, double, EMPTY_ARRAY, NULL_ARRAY, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import type { Blocked } from "../../engine/blocking.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType, type KeyRecord } from "../../engine/keyspace.ts";
import { dbKeyId } from "../../engine/client.ts";
import { LONG_MAX, parsePositiveLong, parseRangeLong, parseTimeoutMs } from "./parse.ts";
import { cond, deleteWhere, walk, type Entry } from "./store.ts";

type Where = "min" | "max";

const encoder = new TextEncoder();
const ZPOPMIN_NAME = encoder.encode("ZPOPMIN");
const ZPOPMAX_NAME = encoder.encode("ZPOPMAX");
const popName = (where: Where) => (where === "min" ? ZPOPMIN_NAME : ZPOPMAX_NAME);

/** Removes and returns the `count` lowest (highest) entries of a non-empty zset. */
function popEntries(call: CommandCall, record: KeyRecord, where: Where, count: number): Entry[] {
  const sql = call.server.sql;
  const desc = where === "max";
  const entries = [...walk(sql, record.id, [], desc, 0, Math.min(count, record.count))];
  const edge = entries[entries.length - 1];
  const deleted = deleteWhere(sql, record.id, [cond(`(score, member) ${desc ? ">=" : "<="} (?, ?)`, edge.score, edge.member)]);
  call.keys.updateCount(record, record.count - deleted);
  call.dirty += deleted;
  return entries;
}

interface PopShape {
  /** Put the key name first (BZPOPMIN, ZMPOP). */
  readonly emitKey: boolean;
  /** [member, score] pairs as arrays (ZMPOP always, ZPOPMIN with COUNT in RESP3). */
  readonly nested: boolean;
}

function popReply(key: Uint8Array, entries: Entry[], shape: PopShape): Reply {
  const items: Reply[] = [];
  for (const { member, score } of entries) {
    if (shape.nested) items.push(array([bulk(member), double(score)]));
    else items.push(bulk(member), double(score));
  }
  if (!shape.emitKey) return array(items);
  return shape.nested ? array([bulk(key), array(items)]) : array([bulk(key), ...items]);
}

/** ZPOPMIN / ZPOPMAX key [count]. */
export function zpop(call: CommandCall, where: Where): Reply {
  const argv = call.argv;
  if (argv.length > 3) fail(Errors.syntax);
  const count = argv.length === 3 ? parsePositiveLong(argv[2]) : -1;
  const record = call.keys.lookupType(call.db, argv[1], KeyType.zset);
  if (!record || count === 0) return EMPTY_ARRAY;
  const entries = popEntries(call, record, where, count === -1 ? 1 : count);
  return popReply(argv[1], entries, { emitKey: false, nested: call.client.protocol === 3 && count !== -1 });
}

/**
 * The first non-empty sorted set among `keys` for a blocking pop. A first run
 * looks at every key in order, and a key of another type is WRONGTYPE. When
 * the engine re-runs a blocked client's command (the client is still marked
 * blocked) because a key became ready, only that key is looked at, and a key
 * of another type is passed over: Redis 7.0 serves a blocked client from the
 * ready key, and only when it holds a sorted set.
 */
function firstNonEmpty(call: CommandCall, keys: readonly Uint8Array[]): KeyRecord | null {
  const rerun = call.client.blocked !== null;
  let candidates = keys;
  const ready = rerun ? call.server.servingKeyId : null;
  if (ready !== null) {
    const match = keys.find((key) => dbKeyId(call.db, key) === ready);
    if (match) candidates = [match];
  }
  for (const key of candidates) {
    const record = call.keys.lookup(call.db, key);
    if (record === null) continue;
    if (record.type !== KeyType.zset) {
      if (rerun) continue;
      fail(Errors.wrongType);
    }
    if (record.count > 0) return record;
  }
  return null;
}

/** BZPOPMIN / BZPOPMAX key [key ...] timeout. */
export function bzpop(call: CommandCall, where: Where): Reply | Blocked {
  const argv = call.argv;
  const timeout = parseTimeoutMs(argv[argv.length - 1]);
  const keys = argv.slice(1, -1);
  const record = firstNonEmpty(call, keys);
  if (record === null) return call.block(keys, timeout, NULL_ARRAY);
  const entries = popEntries(call, record, where, 1);
  call.rewrite([popName(where), record.key]);
  return popReply(record.key, entries, { emitKey: true, nested: false });
}

interface MpopArgs {
  readonly keys: Uint8Array[];
  readonly where: Where;
  readonly count: number;
}

/** zmpopGenericCommand's parsing: numkeys at `numkeysIdx`, the keys, MIN|MAX, [COUNT n]. */
function parseMpop(call: CommandCall, numkeysIdx: number): MpopArgs {
  const argv = call.argv;
  const numkeys = parseRangeLong(argv[numkeysIdx], 1n, LONG_MAX, "ERR numkeys should be greater than 0");
  const whereIdx = BigInt(numkeysIdx) + numkeys + 1n;
  if (whereIdx >= BigInt(argv.length)) fail(Errors.syntax);
  const w = Number(whereIdx);
  const option = call.option(w);
  if (option !== "min" && option !== "max") fail(Errors.syntax);
  let count = -1;
  for (let j = w + 1; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    if (count === -1 && call.option(j) === "count" && more > 0) {
      j++;
      count = Number(parseRangeLong(argv[j], 1n, LONG_MAX, "ERR count should be greater than 0"));
    } else {
      fail(Errors.syntax);
    }
  }
  return { keys: argv.slice(numkeysIdx + 1, w), where: option, count: count === -1 ? 1 : count };
}

function mpopFrom(call: CommandCall, record: KeyRecord, args: MpopArgs): Reply {
  const entries = popEntries(call, record, args.where, args.count);
  call.rewrite([popName(args.where), record.key, String(entries.length)]);
  return popReply(record.key, entries, { emitKey: true, nested: true });
}

/** ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]. */
export function zmpop(call: CommandCall): Reply {
  const args = parseMpop(call, 1);
  for (const key of args.keys) {
    const record = call.keys.lookupType(call.db, key, KeyType.zset);
    if (record !== null) return mpopFrom(call, record, args);
  }
  return NULL_ARRAY;
}

/** BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]. */
export function bzmpop(call: CommandCall): Reply | Blocked {
  const args = parseMpop(call, 2);
  const timeout = parseTimeoutMs(call.argv[1]);
  const record = firstNonEmpty(call, args.keys);
  if (record === null) return call.block(args.keys, timeout, NULL_ARRAY);
  return mpopFrom(call, record, args);
}
