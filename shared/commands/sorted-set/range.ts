/**
 * Ranges of a sorted set: ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES),
 * ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZCOUNT,
 * ZLEXCOUNT and ZREMRANGEBY{RANK,SCORE,LEX} (t_zset.c zrangeGenericCommand
 * and friends).
 *
 * By rank: near an end, LIMIT/OFFSET on the score index from that end;
 * elsewhere the first entry is found through the counted blocks (O(sqrt n))
 * and the range walked from it.
 * By score: an index range. By lex: see lexStart below.
 */
import { EMPTY_ARRAY, integer, ZERO, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType, type KeyRecord } from "../../engine/keyspace.ts";
import type { Sql } from "../../store/sql.ts";
import {
  lexGteMin, lexLteMax, lexMaxConds, lexMinConds, lexRangeEmpty, parseLexRange, parseLong, parseScoreRange,
  scoreConds, type LexRange,
} from "./parse.ts";
import { EntryReplies, nestedPairs } from "./replies.ts";
import {
  betweenConds, cond, countStretch, deleteMember, deleteWhere, edgeEntry, entryAtRank, rankRange, walk, type Cond, type Entry,
} from "./store.ts";
import { ZsetWriter } from "./writer.ts";

type RangeType = "auto" | "rank" | "score" | "lex";
type Direction = "auto" | "forward" | "reverse";

const ERR_LIMIT_WITH_RANK = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const ERR_WITHSCORES_WITH_LEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX";

// ---- rank ranges ---------------------------------------------------------------------------

/**
 * Redis's rank sanitising: negative indices count from the end; returns the
 * forward ranks [first, last], or null when the range is empty.
 */
export function rankBounds(length: number, start: number, end: number): [number, number] | null {
  if (start < 0) start = length + start;
  if (end < 0) end = length + end;
  if (start < 0) start = 0;
  if (start > end || start >= length) return null;
  if (end >= length) end = length - 1;
  return [start, end];
}

/**
 * Entries of a rank range in the order asked for (`reverse`: from the top),
 * or in whatever order is cheapest when `anyOrder` (stores).
 */
function* rankEntries(
  sql: Sql, record: KeyRecord, start: number, end: number, reverse: boolean, anyOrder: boolean,
): Generator<Entry> {
  const length = record.count;
  const bounds = rankBounds(length, start, end);
  if (bounds === null) return;
  // A reverse range [start, end] is the forward range [len-1-end, len-1-start], read backwards.
  const [first, last] = reverse ? [length - 1 - bounds[1], length - 1 - bounds[0]] : bounds;
  const { desc, entries } = rankRange(sql, record.id, length, first, last);
  if (anyOrder || desc === reverse) {
    yield* entries;
    return;
  }
  // Read from the nearer end, then turned around: this reply is built whole anyway.
  const buffered = [...entries];
  for (let i = buffered.length - 1; i >= 0; i--) yield buffered[i];
}

// ---- lex ranges -------------------------------------------------------------------------------

/**
 * Where a lex range starts, by Redis's listpack algorithm (zzlFirstInLexRange
 * and zzlLastInLexRange), which is exact for the sets lex ranges are meant
 * for (every score equal) and deterministic for the others:
 *
 * - empty when the range can hold nothing, the set's last member is below
 *   min, or its first member is above max;
 * - forward: the first entry in (score, member) order whose member is >= min,
 *   provided it is also <= max; reverse: the last entry whose member is
 *   <= max, provided it is also >= min.
 *
 * When every score is equal (the first and last entries share it) the entry
 * is one index seek (score = S AND member >= min); otherwise finding it may
 * scan. `uniform` tells the caller it may push the other bound into SQL.
 */
function lexStart(sql: Sql, id: number, range: LexRange, reverse: boolean): { start: Entry; uniform: number | null } | null {
  if (lexRangeEmpty(range)) return null;
  const first = edgeEntry(sql, id, false);
  const last = edgeEntry(sql, id, true);
  if (first === null || last === null) return null;
  if (!lexGteMin(last.member, range) || !lexLteMax(first.member, range)) return null;
  const uniform = first.score === last.score ? first.score : null;
  const scoreCond: Cond[] = uniform === null ? [] : [cond("score = ?", uniform)];
  if (!reverse) {
    const start = edgeEntry(sql, id, false, [...scoreCond, ...lexMinConds(range)]);
    if (start === null || !lexLteMax(start.member, range)) return null;
    return { start, uniform };
  }
  const start = edgeEntry(sql, id, true, [...scoreCond, ...lexMaxConds(range)]);
  if (start === null || !lexGteMin(start.member, range)) return null;
  return { start, uniform };
}

/**
 * The entries of a lex range: from its start, `offset` entries skipped
 * unchecked, then entries while their member stays within the far bound, at
 * most `limit` (Redis's genericZrangebylexCommand).
 */
export function* lexEntries(
  sql: Sql, id: number, range: LexRange, reverse: boolean, offset = 0, limit = Infinity,
): Generator<Entry> {
  if (offset < 0) return; // Redis skips to the end of the set
  const found = lexStart(sql, id, range, reverse);
  if (found === null) return;
  const { start, uniform } = found;
  const conds: Cond[] = [cond(`(score, member) ${reverse ? "<=" : ">="} (?, ?)`, start.score, start.member)];
  if (uniform !== null) conds.push(cond("score = ?", uniform), ...(reverse ? lexMinConds(range) : lexMaxConds(range)));
  for (const entry of walk(sql, id, conds, reverse, offset, limit)) {
    if (reverse ? !lexGteMin(entry.member, range) : !lexLteMax(entry.member, range)) return;
    yield entry;
  }
}

function lexCount(sql: Sql, record: KeyRecord, range: LexRange): number {
  const id = record.id;
  const found = lexStart(sql, id, range, false);
  if (found === null) return 0;
  const { start, uniform } = found;
  if (uniform !== null) {
    return countStretch(sql, id, record.count, [cond("score = ?", uniform), cond("member >= ?", start.member), ...lexMaxConds(range)]);
  }
  let n = 0;
  for (const _ of lexEntries(sql, id, range, false)) n++;
  return n;
}

// ---- score ranges ------------------------------------------------------------------------------

function* scoreEntries(
  sql: Sql, record: KeyRecord, conds: Cond[], reverse: boolean, offset: number, limit: number,
): Generator<Entry> {
  if (offset < 0) return; // Redis skips to the end of the set
  if (offset > 0 && offset >= record.count) return;
  yield* walk(sql, record.id, conds, reverse, offset, limit);
}

// ---- ZRANGE and its relatives --------------------------------------------------------------------

/**
 * zrangeGenericCommand: `argStart` is the index of the source key; `store`
 * for ZRANGESTORE (destination at argv[1]). Option parsing, conflicts and
 * range parsing happen before the key is looked up, in Redis's order.
 */
export function zrangeGeneric(
  call: CommandCall, argStart: number, store: boolean, rangeType: RangeType, direction: Direction,
): Reply {
  const argv = call.argv;
  const key = argv[argStart];
  let minIdx = argStart + 1;
  let maxIdx = argStart + 2;
  let withScores = false;
  let offset = 0;
  let limit = -1;

  for (let j = argStart + 3; j < argv.length; j++) {
    const option = call.option(j);
    const left = argv.length - j - 1;
    if (!store && option === "withscores") {
      withScores = true;
    } else if (option === "limit" && left >= 2) {
      offset = parseLong(argv[j + 1]);
      limit = parseLong(argv[j + 2]);
      j += 2;
    } else if (direction === "auto" && option === "rev") {
      direction = "reverse";
    } else if (rangeType === "auto" && option === "bylex") {
      rangeType = "lex";
    } else if (rangeType === "auto" && option === "byscore") {
      rangeType = "score";
    } else {
      fail(Errors.syntax);
    }
  }
  if (direction === "auto") direction = "forward";
  if (rangeType === "auto") rangeType = "rank";
  if (limit !== -1 && rangeType === "rank") fail(ERR_LIMIT_WITH_RANK);
  if (withScores && rangeType === "lex") fail(ERR_WITHSCORES_WITH_LEX);
  const reverse = direction === "reverse";
  if (reverse && rangeType !== "rank") [minIdx, maxIdx] = [maxIdx, minIdx]; // given as max, min

  let start = 0;
  let end = 0;
  let scoreRange: Cond[] = [];
  let lexRange: LexRange | null = null;
  if (rangeType === "rank") {
    start = parseLong(argv[minIdx]);
    end = parseLong(argv[maxIdx]);
  } else if (rangeType === "score") {
    scoreRange = scoreConds(parseScoreRange(argv[minIdx], argv[maxIdx]));
  } else {
    lexRange = parseLexRange(argv[minIdx], argv[maxIdx]);
  }

  const record = call.keys.read(call.db, key, KeyType.zset);
  const sql = call.server.sql;
  const max = limit < 0 ? Infinity : limit;
  const entries = record === null
    ? null
    : rangeType === "rank"
    ? rankEntries(sql, record, start, end, reverse, store)
    : rangeType === "score"
    ? scoreEntries(sql, record, scoreRange, reverse, offset, max)
    : lexEntries(sql, record.id, lexRange!, reverse, offset, max);

  if (store) {
    const writer = new ZsetWriter(call, argv[1], [key]);
    if (entries) for (const entry of entries) writer.add(entry);
    return integer(writer.finish());
  }
  if (entries === null) return EMPTY_ARRAY;
  const out = new EntryReplies(withScores, nestedPairs(call.client.protocol));
  for (const entry of entries) out.add(entry);
  return out.reply();
}

// ---- counts and range removals -------------------------------------------------------------------

export function zcount(call: CommandCall): Reply {
  const range = parseScoreRange(call.argv[2], call.argv[3]);
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  if (!record) return ZERO;
  return integer(countStretch(call.server.sql, record.id, record.count, scoreConds(range)));
}

export function zlexcount(call: CommandCall): Reply {
  const range = parseLexRange(call.argv[2], call.argv[3]);
  const record = call.keys.read(call.db, call.argv[1], KeyType.zset);
  if (!record) return ZERO;
  return integer(lexCount(call.server.sql, record, range));
}

/** ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX (zremrangeGenericCommand). */
export function zremrange(call: CommandCall, type: "rank" | "score" | "lex"): Reply {
  const [, key, a, b] = call.argv;
  let start = 0;
  let end = 0;
  let scoreRange: Cond[] = [];
  let lexRange: LexRange | null = null;
  if (type === "rank") {
    start = parseLong(a);
    end = parseLong(b);
  } else if (type === "score") {
    scoreRange = scoreConds(parseScoreRange(a, b));
  } else {
    lexRange = parseLexRange(a, b);
  }
  const record = call.keys.lookupType(call.db, key, KeyType.zset);
  if (!record) return ZERO;
  const sql = call.server.sql;
  let deleted = 0;
  if (type === "rank") {
    const bounds = rankBounds(record.count, start, end);
    if (bounds === null) return ZERO;
    const low = entryAtRank(sql, record.id, record.count, bounds[0])!;
    const high = entryAtRank(sql, record.id, record.count, bounds[1])!;
    deleted = deleteWhere(sql, record.id, betweenConds(low, high));
  } else if (type === "score") {
    deleted = deleteWhere(sql, record.id, scoreRange);
  } else {
    const found = lexStart(sql, record.id, lexRange!, false);
    if (found !== null && found.uniform !== null) {
      deleted = deleteWhere(sql, record.id, [
        cond("score = ?", found.uniform), cond("member >= ?", found.start.member), ...lexMaxConds(lexRange!),
      ]);
    } else if (found !== null) {
      for (const entry of lexEntries(sql, record.id, lexRange!, false)) {
        if (deleteMember(sql, record.id, entry.member)) deleted++;
      }
    }
  }
  if (deleted > 0) {
    call.keys.updateCount(record, record.count - deleted);
    call.dirty += deleted;
  }
  return integer(deleted);
}
