/**
 * ZRANDMEMBER and ZSCAN (t_zset.c zrandmemberCommand, db.c scanGenericCommand).
 *
 * Random picks are rows at random offsets of the set in member order; a
 * batch of offsets is reached by seeks that skip the gaps inside SQLite, or by
 * one paged pass when the offsets are dense: never by loading the set
 * (collection-random.ts). A large set is sampled by seeking instead (Sampler).
 *
 * ZSCAN pages in member order with the cursor memory HSCAN and SSCAN use
 * (collection-scan.ts). Like Redis, a small set (one Redis keeps as a
 * listpack) is answered whole, in (score, member) order, with cursor 0.
 */
import { bulk, EMPTY_ARRAY, NULL, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType } from "../../engine/keyspace.ts";
import { blob, num, type Sql } from "../../store/sql.ts";
import { formatDouble } from "../../util/numbers.ts";
import {
  distinctBySeeks, distinctPicks, randomBelow, RandomReplyLimit, randomReplyTooLarge, repeatedPicks, rowsAtOffsets,
} from "../collection-random.ts";
import {
  CollectionScan, EMPTY_SCAN, openScan, scanMatches, scanReply, type ScanSource,
} from "../collection-scan.ts";
import { LONG_MAX, parseRangeLong } from "./parse.ts";
import { EntryReplies, nestedPairs } from "./replies.ts";
import { memberPage, PAGE_ROWS, walk, type Entry } from "./store.ts";
import { zsetEncoding } from "./encoding.ts";

/** The sorted set's entries in member order, for ZSCAN and the random picks. */
function entryRows(sql: Sql, id: number): ScanSource<Entry> {
  return {
    page: (after, skip, limit) => memberPage(sql, id, after, skip, limit),
    member: (entry) => entry.member,
    bytes: (entry) => entry.member.length,
  };
}

/** The entries at the given offsets (in member order) of a zset of `size` members (see rowsAtOffsets). */
function entriesAtOffsets(sql: Sql, id: number, size: number, offsets: readonly number[]): Map<number, Entry> {
  return rowsAtOffsets(entryRows(sql, id), size, offsets, PAGE_ROWS);
}

/**
 * Up to this many members, random picks are exact: rows at uniformly random
 * offsets. OFFSET costs O(offset) in SQLite, so a larger set is sampled by
 * seeking instead (O(log n) a pick): a random point is drawn uniformly between
 * the first and last member, read as base-256 fractions after their common
 * prefix, and the first member at or after it is taken, then a random
 * 0..SAMPLE_WINDOW-1 members further on (wrapping to the start). A member's
 * chance is then about proportional to the gaps in byte space before it and
 * its neighbours: close to uniform for ids, counters, hashes and UUIDs,
 * skewed for sets whose members cluster unevenly (a small group of members
 * after a wide unused byte range is favoured). Redis's own hash-table
 * sampling (dictGetFairRandomKey) is only approximately fair too.
 */
const EXACT_SAMPLE_MAX = 2048;
const FRACTION_BYTES = 6;
const SAMPLE_WINDOW = 64;

class Sampler {
  private readonly prefix: Uint8Array;
  private readonly low: number;
  private readonly span: number;

  constructor(
    private readonly sql: Sql,
    private readonly id: number,
    private readonly first: Entry,
    last: Entry,
  ) {
    const a = first.member;
    const b = last.member;
    let p = 0;
    while (p < a.length && p < b.length && a[p] === b[p]) p++;
    this.prefix = a.slice(0, p);
    this.low = fraction(a, p);
    this.span = fraction(b, p) - this.low;
  }

  pick(): Entry {
    const x = this.low + Math.floor(Math.random() * (this.span + 1));
    const target = new Uint8Array(this.prefix.length + FRACTION_BYTES);
    target.set(this.prefix);
    let v = x;
    for (let i = FRACTION_BYTES - 1; i >= 0; i--) {
      target[this.prefix.length + i] = v % 256;
      v = Math.floor(v / 256);
    }
    // A further random step of 0..SAMPLE_WINDOW-1 members spreads the picks
    // that land after one wide gap over the members that follow it.
    const row = this.sql.one<{ member: ArrayBuffer; score: number }>(
      `SELECT member, score FROM zset_members WHERE key_id = ? AND member >= ? ORDER BY member LIMIT 1 OFFSET ?`,
      this.id, target, randomBelow(SAMPLE_WINDOW),
    ) ?? this.sql.one<{ member: ArrayBuffer; score: number }>(
      `SELECT member, score FROM zset_members WHERE key_id = ? ORDER BY member LIMIT 1 OFFSET ?`,
      this.id, randomBelow(SAMPLE_WINDOW),
    );
    return row ? { member: blob(row.member), score: num(row.score) } : this.first;
  }
}

/** The FRACTION_BYTES bytes of `s` after position `p` as an integer (missing bytes are 0). */
function fraction(s: Uint8Array, p: number): number {
  let v = 0;
  for (let i = 0; i < FRACTION_BYTES; i++) v = v * 256 + (p + i < s.length ? s[p + i] : 0);
  return v;
}

function samplerFor(sql: Sql, id: number): Sampler | null {
  const first = memberPage(sql, id, null, 0, 1)[0];
  const last = sql.one<{ member: ArrayBuffer; score: number }>(
    `SELECT member, score FROM zset_members WHERE key_id = ? ORDER BY member DESC LIMIT 1`, id,
  );
  if (!first || !last) return null;
  return new Sampler(sql, id, first, { member: blob(last.member), score: num(last.score) });
}

/** `k` random members, repeats allowed, in random order. */
function randomEntries(sql: Sql, id: number, size: number, k: number): Entry[] {
  if (size > EXACT_SAMPLE_MAX && k * 4 <= size) {
    const sampler = samplerFor(sql, id);
    if (sampler) return Array.from({ length: k }, () => sampler.pick());
  }
  return repeatedPicks(k, size, (offsets) => entriesAtOffsets(sql, id, size, offsets));
}

/** `k` distinct random members (k < size), in random order. */
function distinctRandomEntries(sql: Sql, id: number, size: number, k: number): Entry[] {
  if (size > EXACT_SAMPLE_MAX && k * 32 <= size) {
    const sampler = samplerFor(sql, id);
    // A skewed set that keeps repeating itself falls back to exact offsets.
    const picked = sampler && distinctBySeeks(k, () => sampler.pick(), (entry) => entry.member);
    if (picked) return picked;
  }
  return distinctPicks(k, size, (offsets) => entriesAtOffsets(sql, id, size, offsets));
}

/** ZRANDMEMBER with a negative count: see RandomReplyLimit. */
const ERR_RANDOM_REPLY_TOO_LARGE = randomReplyTooLarge("ZRANDMEMBER", "members");

export function zrandmember(call: CommandCall): Reply {
  const argv = call.argv;
  if (argv.length < 3) {
    const record = call.keys.read(call.db, argv[1], KeyType.zset);
    if (!record) return NULL;
    const entry = randomEntries(call.server.sql, record.id, record.count, 1)[0];
    return entry ? bulk(entry.member) : NULL;
  }
  const l = parseRangeLong(argv[2], -LONG_MAX, LONG_MAX);
  if (argv.length > 4 || (argv.length === 4 && call.option(3) !== "withscores")) fail(Errors.syntax);
  const withScores = argv.length === 4;
  if (withScores && (l < -LONG_MAX / 2n || l > LONG_MAX / 2n)) fail("ERR value is out of range");

  const record = call.keys.read(call.db, argv[1], KeyType.zset);
  if (!record) return EMPTY_ARRAY;
  const size = record.count;
  const unique = l >= 0n;
  const magnitude = unique ? l : -l;
  if (magnitude === 0n) return EMPTY_ARRAY;
  const sql = call.server.sql;
  const out = new EntryReplies(withScores, nestedPairs(call.client.protocol));

  if (!unique || magnitude === 1n) {
    // Members may repeat, in random order.
    const limit = new RandomReplyLimit(ERR_RANDOM_REPLY_TOO_LARGE);
    limit.checkCount(magnitude);
    for (const entry of randomEntries(sql, record.id, size, Number(magnitude))) {
      limit.addBytes(entry.member.length + 32);
      out.add(entry);
    }
    return out.reply();
  }

  if (magnitude >= BigInt(size)) {
    // The whole set (Redis's CASE 2), in the order Redis's set iterator walks it: from the top down.
    for (const entry of walk(sql, record.id, [], true)) out.add(entry);
    return out.reply();
  }

  // Distinct members, fewer than the set has, in random order.
  const picked = distinctRandomEntries(sql, record.id, size, Number(magnitude));
  for (const entry of picked) out.add(entry);
  return out.reply();
}

// ---- ZSCAN -------------------------------------------------------------------------------------

/** ZSCAN's cursor memory (see collection-scan.ts); 32 rows per SQL statement. */
const zscanPages = new CollectionScan(32);

/**
 * A score as a listpack stores it (zzlInsertAt): an integer when the double
 * is integral and within ±2^62 (double2ll), else d2string's "%.17g". ZSCAN of
 * a small set shows these strings ("100000000000000000" where a double reply
 * says "1e+17").
 */
function listpackScore(score: number): string {
  if (Number.isInteger(score) && Math.abs(score) <= 2 ** 62) return BigInt(score).toString();
  return formatDouble(score);
}

export function zscan(call: CommandCall): Reply {
  const opened = openScan(call, KeyType.zset);
  if (!opened) return EMPTY_SCAN;
  const { record, scan } = opened;
  const sql = call.server.sql;
  const items: Reply[] = [];

  if (zsetEncoding(record, call.server.config, sql) === "listpack") {
    for (const entry of walk(sql, record.id, [], false)) {
      if (scanMatches(scan, entry.member)) items.push(bulk(entry.member), bulk(listpackScore(entry.score)));
    }
    return scanReply(0, items);
  }

  const { cursor, rows } = zscanPages.page(call, record.id, scan, entryRows(sql, record.id));
  for (const entry of rows) items.push(bulk(entry.member), bulk(formatDouble(entry.score)));
  return scanReply(cursor, items);
}
