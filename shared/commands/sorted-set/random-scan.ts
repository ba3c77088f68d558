/**
 * ZRANDMEMBER and ZSCAN (t_zset.c zrandmemberCommand, db.c scanGenericCommand).
 *
 * Random picks are rows at random offsets of the set in member order; a
 * batch of offsets is reached by seeks that skip the gaps inside SQLite, or by
 * one paged pass when the offsets are dense: never by loading the set.
 *
 * ZSCAN pages in member order. Like Redis, a small set (one Redis keeps as a
 * listpack) is answered whole, in (score, member) order, with cursor 0.
 */
import { array, bulk, EMPTY_ARRAY, NULL, type Reply } from "../../resp/reply.ts";
import type { CommandCall } from "../../engine/call.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { KeyType } from "../../engine/keyspace.ts";
import { blob, num, type Sql } from "../../store/sql.ts";
import { latin1 } from "../../util/bytes.ts";
import { globMatch } from "../../util/glob.ts";
import { formatDouble, parseInt64 } from "../../util/numbers.ts";
import { LONG_MAX, parseRangeLong } from "./parse.ts";
import { EntryReplies, nestedPairs } from "./replies.ts";
import { memberPage, PAGE_ROWS, walk, type Entry } from "./store.ts";
import { zsetEncoding } from "./encoding.ts";

const randomBelow = (n: number): number => Math.floor(Math.random() * n);

/** `k` distinct integers in [0, n), by Floyd's algorithm (memory O(k)). */
function distinctOffsets(k: number, n: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = randomBelow(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen];
}

/** The entries at the given offsets (in member order) of a zset of `size` members. */
function entriesAtOffsets(sql: Sql, id: number, size: number, offsets: readonly number[]): Map<number, Entry> {
  const sorted = [...offsets].sort((a, b) => a - b);
  const found = new Map<number, Entry>();
  if (sorted.length * 4 > size) {
    let next = 0;
    let position = 0;
    let after: Uint8Array | null = null;
    while (next < sorted.length) {
      const page = memberPage(sql, id, after, 0, PAGE_ROWS);
      for (const entry of page) {
        while (next < sorted.length && sorted[next] === position) {
          found.set(position, entry);
          next++;
        }
        position++;
      }
      if (page.length < PAGE_ROWS) break;
      after = page[page.length - 1].member;
    }
    return found;
  }
  let after: Uint8Array | null = null;
  let previous = -1;
  for (const offset of sorted) {
    if (offset === previous) continue;
    const page = memberPage(sql, id, after, offset - previous - 1, 1);
    if (page.length === 0) break;
    found.set(offset, page[0]);
    after = page[0].member;
    previous = offset;
  }
  return found;
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
  const picks = new Uint32Array(k);
  for (let i = 0; i < k; i++) picks[i] = randomBelow(size);
  const entries = entriesAtOffsets(sql, id, size, [...new Set(picks)]);
  const out: Entry[] = [];
  for (const pick of picks) {
    const entry = entries.get(pick);
    if (entry) out.push(entry);
  }
  return out;
}

/** `k` distinct random members (k < size), in random order. */
function distinctRandomEntries(sql: Sql, id: number, size: number, k: number): Entry[] {
  let picked: Entry[] | null = null;
  if (size > EXACT_SAMPLE_MAX && k * 32 <= size) {
    const sampler = samplerFor(sql, id);
    const seen = new Map<string, Entry>();
    // Duplicates are drawn again, as Redis does; a skewed set that keeps
    // repeating itself falls back to exact offsets.
    for (let attempts = 0; sampler && seen.size < k && attempts < 4 * k + 64; attempts++) {
      const entry = sampler.pick();
      seen.set(latin1(entry.member), entry);
    }
    if (seen.size === k) picked = [...seen.values()];
  }
  picked ??= [...entriesAtOffsets(sql, id, size, distinctOffsets(k, size)).values()];
  for (let i = picked.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [picked[i], picked[j]] = [picked[j], picked[i]];
  }
  return picked;
}

/**
 * ZRANDMEMBER with a negative count repeats members, so its reply does not
 * depend on the set's size; Redis streams it however large. tidekv refuses
 * replies of more than RANDOM_REPLY_ELEMENTS_MAX members or about
 * RANDOM_REPLY_BYTES_MAX bytes instead of building them in memory.
 */
const RANDOM_REPLY_ELEMENTS_MAX = 1_000_000;
const RANDOM_REPLY_BYTES_MAX = 64 * 1024 * 1024;
const ERR_RANDOM_REPLY_TOO_LARGE =
  `ERR ZRANDMEMBER reply too large (at most ${RANDOM_REPLY_ELEMENTS_MAX} members and ${RANDOM_REPLY_BYTES_MAX} bytes)`;

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
    if (magnitude > BigInt(RANDOM_REPLY_ELEMENTS_MAX)) fail(ERR_RANDOM_REPLY_TOO_LARGE);
    let bytes = 0;
    for (const entry of randomEntries(sql, record.id, size, Number(magnitude))) {
      bytes += entry.member.length + 32;
      if (bytes > RANDOM_REPLY_BYTES_MAX) fail(ERR_RANDOM_REPLY_TOO_LARGE);
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

/**
 * ZSCAN's cursor is a number, while tidekv pages by member. A cursor is
 * `tag * 2^32 + rank`: `rank` counts the members returned so far, and `tag`
 * names an entry of a small per-node memory holding the last member returned,
 * so the next page is an indexed seek (member > last) that never misses a
 * member present throughout the scan. A cursor whose entry is gone (restart,
 * eviction, aged out) resumes at OFFSET rank: still complete unless members
 * before that point were removed meanwhile. Cursors stay below 2^52.
 */
interface ScanPosition {
  readonly db: number;
  readonly keyId: number;
  readonly last: Uint8Array;
  readonly rank: number;
}

const RANK_SPAN = 2 ** 32;
const TAG_LIMIT = 2 ** 20;
const CURSOR_ENTRIES_MAX = 4096;
const CURSOR_BYTES_MAX = 8 * 1024 * 1024;
const CURSOR_MEMBER_MAX = 64 * 1024;
/** Members ZSCAN returns at most per call, whatever COUNT asks (COUNT is a hint). */
const SCAN_PAGE_MAX = 1024;
const SCAN_BYTES_MAX = 8 * 1024 * 1024;
const SCAN_BATCH = 32;

class ScanCursors {
  private readonly entries = new Map<number, ScanPosition>();
  private bytes = 0;
  private tag = 0;

  issue(position: ScanPosition): number {
    this.tag = (this.tag % (TAG_LIMIT - 1)) + 1;
    const cursor = this.tag * RANK_SPAN + Math.min(position.rank, RANK_SPAN - 1);
    if (position.last.length > CURSOR_MEMBER_MAX) return cursor;
    this.drop(cursor);
    this.entries.set(cursor, position);
    this.bytes += position.last.length;
    while (this.entries.size > CURSOR_ENTRIES_MAX || this.bytes > CURSOR_BYTES_MAX) {
      this.drop(this.entries.keys().next().value!);
    }
    return cursor;
  }

  find(cursor: bigint): ScanPosition | undefined {
    return cursor < BigInt(Number.MAX_SAFE_INTEGER) ? this.entries.get(Number(cursor)) : undefined;
  }

  private drop(cursor: number): void {
    const entry = this.entries.get(cursor);
    if (!entry) return;
    this.bytes -= entry.last.length;
    this.entries.delete(cursor);
  }
}

const scanCursors = new WeakMap<object, ScanCursors>();
function cursorsOf(server: object): ScanCursors {
  let cursors = scanCursors.get(server);
  if (!cursors) scanCursors.set(server, (cursors = new ScanCursors()));
  return cursors;
}

const MAX_ULONG = 2n ** 64n - 1n;

/** parseScanCursorOrReply: strtoul base 10 of the C string; no leading space; "-1" wraps. */
function parseScanCursor(arg: Uint8Array): bigint | null {
  let end = arg.indexOf(0);
  if (end < 0) end = arg.length;
  if (end === 0) return 0n;
  const first = arg[0];
  if (first === 0x20 || (first >= 0x09 && first <= 0x0d)) return null;
  let i = 0;
  let negative = false;
  if (first === 0x2b || first === 0x2d) {
    negative = first === 0x2d;
    i = 1;
  }
  if (i >= end) return null;
  let value = 0n;
  for (; i < end; i++) {
    const c = arg[i];
    if (c < 0x30 || c > 0x39) return null;
    value = value * 10n + BigInt(c - 0x30);
    if (value > MAX_ULONG) return null;
  }
  return negative && value !== 0n ? 2n ** 64n - value : value;
}

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
  const argv = call.argv;
  const cursor = parseScanCursor(argv[2]);
  if (cursor === null) fail("ERR invalid cursor");
  const record = call.keys.read(call.db, argv[1], KeyType.zset);
  if (!record) return array([bulk("0"), EMPTY_ARRAY]);
  let count = 10;
  let pattern: Uint8Array | null = null;
  for (let i = 3; i < argv.length; i += 2) {
    const option = call.option(i);
    const hasValue = i + 1 < argv.length;
    if (option === "count" && hasValue) {
      const n = parseInt64(argv[i + 1]);
      if (n === null) fail(Errors.notInteger);
      if (n < 1n) fail(Errors.syntax);
      count = n > BigInt(SCAN_PAGE_MAX) ? SCAN_PAGE_MAX : Number(n);
    } else if (option === "match" && hasValue) {
      const p = argv[i + 1];
      pattern = p.length === 1 && p[0] === 0x2a ? null : p; // "*" matches everything
    } else {
      fail(Errors.syntax);
    }
  }
  const sql = call.server.sql;
  const items: Reply[] = [];
  const add = (entry: Entry, score = formatDouble(entry.score)) => {
    if (pattern === null || globMatch(pattern, entry.member)) items.push(bulk(entry.member), bulk(score));
  };
  const addListpack = (entry: Entry) => add(entry, listpackScore(entry.score));

  if (zsetEncoding(record, call.server.config, sql) === "listpack") {
    for (const entry of walk(sql, record.id, [], false)) addListpack(entry);
    return array([bulk("0"), array(items)]);
  }

  const cursors = cursorsOf(call.server);
  const resumed = cursor === 0n ? undefined : cursors.find(cursor);
  let after: Uint8Array | null = null;
  let skip = 0;
  let rank = 0;
  if (resumed && resumed.db === call.db && resumed.keyId === record.id) {
    after = resumed.last;
    rank = resumed.rank;
  } else if (cursor !== 0n) {
    rank = Number(cursor % BigInt(RANK_SPAN));
    skip = rank;
  }
  let taken = 0;
  let bytes = 0;
  let last: Uint8Array | null = null;
  let exhausted = false;
  while (taken < count && bytes < SCAN_BYTES_MAX) {
    const limit = Math.min(SCAN_BATCH, count - taken);
    const rows = memberPage(sql, record.id, after, skip, limit);
    skip = 0;
    let used = 0;
    for (const entry of rows) {
      add(entry);
      last = after = entry.member;
      taken++;
      used++;
      bytes += entry.member.length;
      if (bytes >= SCAN_BYTES_MAX) break;
    }
    if (used === rows.length && rows.length < limit) {
      exhausted = true;
      break;
    }
  }
  if (!exhausted && last !== null) exhausted = memberPage(sql, record.id, last, 0, 1).length === 0;
  if (exhausted || last === null) return array([bulk("0"), array(items)]);
  const next = cursors.issue({ db: call.db, keyId: record.id, last, rank: rank + taken });
  return array([bulk(String(next)), array(items)]);
}
