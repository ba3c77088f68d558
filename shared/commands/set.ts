/**
 * Set commands (Redis 7.0 t_set.c), on SQL.
 *
 * Storage: one row per member in `set_members(key_id, member)`, primary key
 * (key_id, member), so SADD/SREM/SISMEMBER/SMOVE touch one indexed row per
 * member. The key's `count` column is the cardinality (SCARD is O(1)); it is
 * kept by Keyspace.createCollection / updateCount, and updateCount deletes the
 * key when the last member goes, as Redis deletes empty sets.
 *
 * Nothing here loads a whole set to work on a few members:
 * - SMEMBERS, SINTER, SUNION and SDIFF return whole results, so they read them,
 *   in bounded SQL pages. SINTER walks the smallest set and keeps a member only
 *   when an indexed probe finds it in every other set; SDIFF walks the first
 *   set and probes the others; SUNION walks every set once.
 * - The STORE forms never bring members into memory: the result is built by
 *   INSERT ... SELECT / DELETE statements under a temporary key, which then
 *   replaces the destination (of any type) in one step.
 * - SRANDMEMBER and SPOP choose members by SQL seeks (see "random members").
 * - SSCAN pages in member (byte) order.
 *
 * Order: Redis returns an intset (a set of at most set-max-intset-entries
 * integers) in ascending numeric order and a hash table in hash order. tidekv
 * returns a result that Redis would hold as an intset (all members integers,
 * at most set-max-intset-entries of them) in numeric order, and anything else
 * in member byte order.
 */
import {
  array, bulk, EMPTY_ARRAY, integer, NULL, ONE, set, ZERO,
  type Reply,
} from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import type { Config } from "../engine/config.ts";
import { CommandError, Errors, fail } from "../engine/errors.ts";
import { KeyType, type KeyRecord } from "../engine/keyspace.ts";
import { blob, num, type Sql, type SqlParam } from "../store/sql.ts";
import { latin1 } from "../util/bytes.ts";
import { parseInt64 } from "../util/numbers.ts";
import {
  distinctBySeeks, distinctPicks, randomBelow, RandomReplyLimit, randomReplyTooLarge, repeatedPicks, rowsAtOffsets,
} from "./collection-random.ts";
import {
  CollectionScan, EMPTY_SCAN, openScan, SCAN_PAGE_MAX, scanMatches, scanReply, type ScanSource,
} from "./collection-scan.ts";
import { registerObjectEncoding } from "./generic.ts";
import type { HandlerTable } from "./spec.ts";

/**
 * The largest member a set accepts. A Durable Object row holds at most 2 MB,
 * so members are limited to 1 MiB, as hash fields are. Larger members are
 * refused with Errors.elementTooLarge before anything is written; lookups of
 * larger members answer "not a member" without asking SQL.
 */
export const SET_ELEMENT_MAX = 1024 * 1024;

const LONG_MAX = 2n ** 63n - 1n;
const ERR_COUNT_RANGE = `ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`;
const ERR_MUST_BE_POSITIVE = "ERR value is out of range, must be positive";
const ERR_NUMKEYS = "ERR numkeys should be greater than 0";
const ERR_TOO_MANY_NUMKEYS = "ERR Number of keys can't be greater than number of args";
const ERR_LIMIT_NEGATIVE = "ERR LIMIT can't be negative";

/** Rows per SQL page when a command walks a set. */
const PAGE_ROWS = 512;
/** Bound parameters per statement (Durable Object SQLite allows 100). */
const PARAMS_MAX = 96;
/** Other sets probed inside the paging statement itself (EXISTS per set); more are probed per page. */
const INLINE_ALL_MAX = 32;
/** Sets excluded inside the paging statement itself (one NOT EXISTS over an id list); more are probed per page. */
const INLINE_NONE_MAX = 512;
/**
 * A database number no client can select: STORE results are built under the
 * destination's name here, then moved into place (Keyspace.rename).
 */
const BUILD_DB = -2;

const encoder = new TextEncoder();
const SREM_NAME = encoder.encode("SREM");
const DEL_NAME = encoder.encode("DEL");

type Blob = ArrayBuffer | Uint8Array;
interface MemberRow {
  [column: string]: Blob | number | null;
  member: Blob;
}

/** A key id, checked, for use as a literal inside SQL text. */
function idLiteral(id: number): string {
  if (!Number.isSafeInteger(id)) throw new Error(`bad key id ${id}`);
  return String(id);
}

// ---- single-member SQL ----------------------------------------------------------

function isMember(sql: Sql, id: number, member: Uint8Array): boolean {
  if (member.length > SET_ELEMENT_MAX) return false;
  return sql.one(`SELECT 1 AS x FROM set_members WHERE key_id = ? AND member = ?`, id, member) !== undefined;
}

function addMember(sql: Sql, id: number, member: Uint8Array): boolean {
  return sql.all(
    `INSERT OR IGNORE INTO set_members (key_id, member) VALUES (?, ?) RETURNING 1 AS x`, id, member,
  ).length > 0;
}

function removeMember(sql: Sql, id: number, member: Uint8Array): boolean {
  if (member.length > SET_ELEMENT_MAX) return false;
  return sql.all(`DELETE FROM set_members WHERE key_id = ? AND member = ? RETURNING 1 AS x`, id, member).length > 0;
}

// ---- batches -----------------------------------------------------------------------

/** Adds members (at most PARAMS_MAX per statement); returns how many were new. */
function addMembers(sql: Sql, id: number, members: readonly Uint8Array[]): number {
  let added = 0;
  const literal = idLiteral(id);
  for (let i = 0; i < members.length; i += PARAMS_MAX) {
    const batch = members.slice(i, i + PARAMS_MAX);
    const values = batch.map(() => `(${literal}, ?)`).join(", ");
    added += sql.all(
      `INSERT OR IGNORE INTO set_members (key_id, member) VALUES ${values} RETURNING 1 AS x`, ...batch,
    ).length;
  }
  return added;
}

/** Removes members; returns how many were there. */
function removeMembers(sql: Sql, id: number, members: readonly Uint8Array[]): number {
  let removed = 0;
  const wanted = members.filter((m) => m.length <= SET_ELEMENT_MAX);
  for (let i = 0; i < wanted.length; i += PARAMS_MAX) {
    const batch = wanted.slice(i, i + PARAMS_MAX);
    removed += sql.all(
      `DELETE FROM set_members WHERE key_id = ${idLiteral(id)} AND member IN (${placeholders(batch.length)}) RETURNING 1 AS x`,
      ...batch,
    ).length;
  }
  return removed;
}

/** Which of `members` the set holds, as latin1 strings. */
function presentMembers(sql: Sql, id: number, members: readonly Uint8Array[]): Set<string> {
  const found = new Set<string>();
  const wanted = members.filter((m) => m.length <= SET_ELEMENT_MAX);
  for (let i = 0; i < wanted.length; i += PARAMS_MAX) {
    const batch = wanted.slice(i, i + PARAMS_MAX);
    const rows = sql.all<MemberRow>(
      `SELECT member FROM set_members WHERE key_id = ${idLiteral(id)} AND member IN (${placeholders(batch.length)})`,
      ...batch,
    );
    for (const row of rows) found.add(latin1(blob(row.member)));
  }
  return found;
}

/** Which of `members` at least one of the sets `ids` holds, as latin1 strings. */
function presentInAny(sql: Sql, ids: readonly number[], members: readonly Uint8Array[]): Set<string> {
  const found = new Set<string>();
  for (let g = 0; g < ids.length; g += INLINE_NONE_MAX) {
    const group = ids.slice(g, g + INLINE_NONE_MAX).map(idLiteral).join(", ");
    for (let i = 0; i < members.length; i += PARAMS_MAX) {
      const batch = members.slice(i, i + PARAMS_MAX);
      const rows = sql.all<MemberRow>(
        `SELECT DISTINCT member FROM set_members WHERE key_id IN (${group}) AND member IN (${placeholders(batch.length)})`,
        ...batch,
      );
      for (const row of rows) found.add(latin1(blob(row.member)));
    }
  }
  return found;
}

function placeholders(n: number): string {
  return n === 1 ? "?" : "?" + ", ?".repeat(n - 1);
}

// ---- paging -------------------------------------------------------------------------

/**
 * Members in byte order: after `after` (exclusive) when given, else from the
 * start; `offset` rows skipped first; at most `limit` rows.
 */
function memberPage(sql: Sql, id: number, after: Uint8Array | null, limit: number, offset = 0): Uint8Array[] {
  const rows = after === null
    ? sql.all<MemberRow>(
      `SELECT member FROM set_members WHERE key_id = ? ORDER BY member LIMIT ? OFFSET ?`, id, limit, offset,
    )
    : sql.all<MemberRow>(
      `SELECT member FROM set_members WHERE key_id = ? AND member > ? ORDER BY member LIMIT ? OFFSET ?`,
      id, after, limit, offset,
    );
  return rows.map((row) => blob(row.member));
}

/** Calls `visit` with every member of the set in byte order, PAGE_ROWS rows at a time. */
function forEachMember(sql: Sql, id: number, visit: (member: Uint8Array) => void): void {
  let after: Uint8Array | null = null;
  for (;;) {
    const rows = memberPage(sql, id, after, PAGE_ROWS);
    for (const member of rows) visit(member);
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1];
  }
}

function allMembers(sql: Sql, id: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  forEachMember(sql, id, (member) => out.push(member));
  return out;
}

/**
 * Walks the members of set `base` in byte order, keeping those that every set
 * of `all` holds and no set of `none` holds. The first sets of each list are
 * tested inside the paging statement (indexed EXISTS probes, so SQLite skips
 * the members that fail without returning them); any further sets are probed
 * per page with batched IN lookups. `visit` returns false to stop early.
 */
function forEachFiltered(
  sql: Sql, base: number, all: readonly number[], none: readonly number[],
  visit: (member: Uint8Array) => boolean,
): void {
  const inlineAll = all.slice(0, INLINE_ALL_MAX);
  const restAll = all.slice(INLINE_ALL_MAX);
  const inlineNone = none.slice(0, INLINE_NONE_MAX);
  const restNone = none.slice(INLINE_NONE_MAX);
  const conditions = filterConditions("a", inlineAll, inlineNone);
  const limit = restAll.length > 0 || restNone.length > 0 ? PARAMS_MAX : PAGE_ROWS;
  let after: Uint8Array | null = null;
  for (;;) {
    const params: SqlParam[] = [base];
    if (after !== null) params.push(after);
    params.push(limit);
    const rows: Uint8Array[] = sql.all<MemberRow>(
      `SELECT a.member AS member FROM set_members a WHERE a.key_id = ?${after === null ? "" : " AND a.member > ?"}` +
        `${conditions} ORDER BY a.member LIMIT ?`,
      ...params,
    ).map((row) => blob(row.member));
    let kept = rows;
    for (const id of restAll) {
      if (kept.length === 0) break;
      const found = presentMembers(sql, id, kept);
      kept = kept.filter((m) => found.has(latin1(m)));
    }
    if (restNone.length > 0 && kept.length > 0) {
      const found = presentInAny(sql, restNone, kept);
      kept = kept.filter((m) => !found.has(latin1(m)));
    }
    for (const member of kept) if (!visit(member)) return;
    if (rows.length < limit) return;
    after = rows[rows.length - 1];
  }
}

/** SQL text testing member `alias`.member against other sets (ids are literals: no bound parameters). */
function filterConditions(alias: string, all: readonly number[], none: readonly number[]): string {
  let out = "";
  for (const id of all) {
    out += ` AND EXISTS (SELECT 1 FROM set_members b WHERE b.key_id = ${idLiteral(id)} AND b.member = ${alias}.member)`;
  }
  if (none.length > 0) {
    out += ` AND NOT EXISTS (SELECT 1 FROM set_members b WHERE b.key_id IN (${none.map(idLiteral).join(", ")})` +
      ` AND b.member = ${alias}.member)`;
  }
  return out;
}

// ---- encoding and reply order ---------------------------------------------------------

/** set-max-intset-entries, capped at 2^30 as Redis caps it (intset internals). */
function intsetMaxEntries(config: Config): number {
  return Math.min(config.int("set-max-intset-entries"), 2 ** 30);
}

/**
 * OBJECT ENCODING of a set, by Redis 7.0's rules: "intset" while every member
 * is an integer in canonical form (what string2ll accepts: "12", "-3", not
 * "012", "+1" or "-0") and there are at most set-max-intset-entries of them,
 * else "hashtable" (Redis 7.0 has no listpack sets; 7.2 added them).
 *
 * The test is one SQL query that stops at the first non-integer member, run
 * only on sets small enough to be intsets. It derives the encoding from the
 * current contents: Redis never converts a hash table back to an intset, so a
 * set that once held a non-integer (or grew past the limit) and lost it
 * answers "intset" here where Redis still says "hashtable".
 */
export function setEncoding(record: KeyRecord, config: Config, sql: Sql): "intset" | "hashtable" {
  if (record.count > intsetMaxEntries(config)) return "hashtable";
  // A canonical integer survives text -> INTEGER -> text unchanged (CAST clamps
  // out-of-range values, and drops signs, spaces and leading zeros).
  const other = sql.one(
    `SELECT 1 AS x FROM set_members WHERE key_id = ?
       AND (LENGTH(member) > 20 OR CAST(CAST(member AS INTEGER) AS TEXT) IS NOT CAST(member AS TEXT)) LIMIT 1`,
    record.id,
  );
  return other ? "hashtable" : "intset";
}

registerObjectEncoding(KeyType.set, (call, record) => setEncoding(record, call.server.config, call.server.sql));

/**
 * Members (in byte order) in the order Redis would return them: an intset's
 * members ascending by value when all are integers and there are at most
 * set-max-intset-entries of them; otherwise unchanged.
 */
function replyOrder(members: Uint8Array[], config: Config): Uint8Array[] {
  if (members.length < 2 || members.length > intsetMaxEntries(config)) return members;
  const values: bigint[] = [];
  for (const member of members) {
    const value = parseInt64(member);
    if (value === null) return members;
    values.push(value);
  }
  const order = members.map((_, i) => i);
  order.sort((a, b) => (values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : 0));
  return order.map((i) => members[i]);
}

const bulks = (members: readonly Uint8Array[]): Reply[] => members.map((m) => bulk(m));

// ---- random members ---------------------------------------------------------------------
//
// Distribution. A set of at most EXACT_SAMPLE_MAX members is sampled exactly
// uniformly: a random rank, reached with OFFSET (at most EXACT_SAMPLE_MAX row
// steps inside SQLite). A larger set cannot be sampled by rank in O(log n)
// (the index keeps no order statistics), so a pick is a seek: a random byte
// string r is drawn, the first member >= r is found, and the pick moves a
// further random 0..SAMPLE_WINDOW-1 members on (wrapping to the start).
//
// r is drawn from the set's *shape*, learned with a bounded number of seeks:
// every member shares the common prefix of the smallest and the largest
// member; after it, each of the next SHAPE_DEPTH byte positions has an
// alphabet (the byte values used there, enumerated exactly by a skip scan for
// the first SHAPE_SCAN_LEVELS positions under one random path, and seen in
// runs of neighbours for the deeper ones) and a chance that a member ends
// there. r takes a random byte of each position's alphabet in turn, stopping
// where it draws "ends here". For members made of independent characters
// (fixed-width counters like "user:000042", hex digests, UUIDs) the picks are
// close to uniform: in tests, 100,000 picks from 20,000 such members reach 99% of them,
// as uniform picks would, and no member gets more than 1.5 times the top count
// uniform picks give. Where the shape is uneven, picks favour members that
// follow a range of byte strings no member uses: a prefix branch holding few
// members gets as many draws as one holding many (a lone "b" beside a million
// "a:..." members gets half the picks; "0" among the decimal numbers up to
// 259987 leads a run of SAMPLE_WINDOW members picked ~35 times more often than
// average), and variable-length ids cover ~75% where uniform picks cover 99%.
// One pick in SAMPLE_PLAIN_ONE_IN draws r uniformly between the smallest and
// largest member instead, and one explores each position's byte range, so
// that members the alphabets miss can still be picked. The learned shape is kept per set in a small
// per-node memory and relearned when the set's size drifts by an eighth.
// Redis's own picks (dictGetFairRandomKey) are close to, but not exactly,
// uniform either.

const EXACT_SAMPLE_MAX = 1024;
const SAMPLE_WINDOW = 64;
/** Byte positions after the common prefix that r is drawn for. */
const SHAPE_DEPTH = 12;
/** Seek points whose neighbours teach the shape, and neighbours read at each. */
const SHAPE_SEEKS = 32;
const SHAPE_RUN = 4;
/** Positions whose alphabet is enumerated exactly (by skip scan) when learning. */
const SHAPE_SCAN_LEVELS = 3;
const SAMPLE_PLAIN_ONE_IN = 256;
/** Sets whose shape a node remembers. */
const SHAPE_CACHE_MAX = 64;

/** The members at the given ranks (in byte order) of a set of `size` members (see rowsAtOffsets). */
function membersAtOffsets(sql: Sql, id: number, size: number, offsets: readonly number[]): Map<number, Uint8Array> {
  return rowsAtOffsets(memberRows(sql, id), size, offsets, PAGE_ROWS);
}

/** One byte position after the common prefix, as learned. */
interface ShapePosition {
  /** Byte values seen there, ascending. */
  readonly bytes: readonly number[];
  /** How likely a member is to end just before this position (0 when none was seen ending there). */
  readonly end: number;
}

/** What the sampler learned about a large set (see "Distribution" above). */
interface SetShape {
  /** The common prefix of every member. */
  readonly prefix: Uint8Array;
  readonly positions: readonly ShapePosition[];
  /** The PLAIN_BYTES bytes after the prefix of the smallest and largest member, as numbers (for plain draws). */
  readonly low: number;
  readonly high: number;
  /** The set's size when learned. */
  readonly size: number;
}

const PLAIN_BYTES = 6;

class ShapeCache {
  private readonly entries = new Map<number, SetShape>();

  get(keyId: number, size: number): SetShape | undefined {
    const shape = this.entries.get(keyId);
    if (!shape) return undefined;
    // Relearn when the size drifted by more than an eighth.
    if (Math.abs(size - shape.size) * 8 > shape.size) {
      this.entries.delete(keyId);
      return undefined;
    }
    return shape;
  }

  set(keyId: number, shape: SetShape): void {
    this.entries.delete(keyId);
    this.entries.set(keyId, shape);
    while (this.entries.size > SHAPE_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
  }
}

const shapeCaches = new WeakMap<object, ShapeCache>();
function shapesOf(server: object): ShapeCache {
  let cache = shapeCaches.get(server);
  if (!cache) shapeCaches.set(server, (cache = new ShapeCache()));
  return cache;
}

/**
 * Learns a set's shape with a bounded number of seeks (at most about
 * SHAPE_SCAN_LEVELS * 257 + SHAPE_SEEKS + 2), reading only the first
 * SHAPE_DEPTH bytes after the common prefix of the members it meets.
 */
function learnShape(sql: Sql, id: number, size: number): SetShape {
  const end = (desc: boolean) =>
    sql.one<MemberRow>(`SELECT member FROM set_members WHERE key_id = ? ORDER BY member ${desc ? "DESC " : ""}LIMIT 1`, id);
  const lo = blob(end(false)?.member);
  const hi = blob(end(true)?.member);
  let p = 0;
  while (p < lo.length && p < hi.length && lo[p] === hi[p]) p++;
  const prefix = lo.slice(0, p);
  const plainValue = (bytes: Uint8Array) => {
    let v = 0;
    for (let i = 0; i < PLAIN_BYTES; i++) v = v * 256 + (bytes[p + i] ?? 0);
    return v;
  };
  const depth = p + SHAPE_DEPTH;
  const seen = Array.from({ length: SHAPE_DEPTH }, () => ({ bytes: new Set<number>(), ends: false, reach: 0, ended: 0 }));
  // `counted`: a sample from a run of neighbours, which estimates how often members end at each position.
  const learn = (sample: Uint8Array, counted: boolean) => {
    for (let i = 0; i < SHAPE_DEPTH; i++) {
      const position = seen[i];
      if (counted) position.reach++;
      if (sample.length > p + i) {
        position.bytes.add(sample[p + i]);
        continue;
      }
      if (sample.length === p + i) {
        position.ends = true;
        if (counted) position.ended++;
      }
      return;
    }
  };
  const current = (): ShapePosition[] => {
    const out: ShapePosition[] = [];
    for (const position of seen) {
      if (position.bytes.size === 0 && !position.ends) break;
      const bytes = [...position.bytes].sort((a, b) => a - b);
      const end = !position.ends ? 0 : bytes.length === 0 ? 1 : (position.ended + 0.5) / (position.reach + 1);
      out.push({ bytes, end });
    }
    return out;
  };
  learn(lo, false);
  learn(hi, false);
  const seek = (from: Uint8Array): Uint8Array | null => {
    const row = sql.one<MemberRow>(
      `SELECT substr(member, 1, ?) AS member FROM set_members WHERE key_id = ? AND member >= ? ORDER BY member LIMIT 1`,
      depth, id, from,
    );
    return row ? blob(row.member) : null;
  };
  // The first positions decide where a draw lands, so their alphabets are
  // enumerated exactly, under one random path: each seek finds the next byte
  // value used at that position (a skip scan).
  let path: Uint8Array = prefix;
  for (let level = 0; level < SHAPE_SCAN_LEVELS; level++) {
    const at = path.length;
    const used: number[] = [];
    let from: Uint8Array = path;
    for (let steps = 0; steps <= 256; steps++) {
      const found = seek(from);
      if (found === null || !startsWith(found, path)) break;
      learn(found, false);
      if (found.length === at) {
        from = concatByte(path, 0);
        continue;
      }
      const symbol = found[at];
      used.push(symbol);
      if (symbol === 255) break;
      from = concatByte(path, symbol + 1);
    }
    if (used.length === 0) break;
    path = concatByte(path, used[randomBelow(used.length)]);
  }
  // Deeper positions, and how often members end where: runs of neighbours at
  // points drawn from what is known so far (half of them exploring).
  for (let i = 0; i < SHAPE_SEEKS; i++) {
    const rows = sql.all<MemberRow>(
      `SELECT substr(member, 1, ?) AS member FROM set_members WHERE key_id = ? AND member >= ? ORDER BY member LIMIT ?`,
      depth, id, shapedDraw(prefix, current(), randomBelow(2) === 0), SHAPE_RUN,
    );
    for (const row of rows) learn(blob(row.member), true);
  }
  return { prefix, positions: current(), low: plainValue(lo), high: plainValue(hi), size };
}

/**
 * r = prefix + one byte per position, until a position draws "ends here".
 * A byte is one of those seen at the position, or, when `explore`, any byte
 * between the smallest and the largest seen (so that draws also land on
 * bytes not seen yet).
 */
function shapedDraw(prefix: Uint8Array, positions: readonly ShapePosition[], explore: boolean): Uint8Array {
  const bytes: number[] = [];
  for (const { bytes: seen, end } of positions) {
    if (seen.length === 0 || (end > 0 && Math.random() < end)) break;
    bytes.push(explore
      ? seen[0] + randomBelow(seen[seen.length - 1] - seen[0] + 1)
      : seen[randomBelow(seen.length)]);
  }
  const r = new Uint8Array(prefix.length + bytes.length);
  r.set(prefix);
  r.set(bytes, prefix.length);
  return r;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function concatByte(bytes: Uint8Array, byte: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = byte;
  return out;
}

/** prefix followed by `value` as PLAIN_BYTES big-endian bytes. */
function plainPoint(prefix: Uint8Array, value: number): Uint8Array {
  const r = new Uint8Array(prefix.length + PLAIN_BYTES);
  r.set(prefix);
  for (let i = PLAIN_BYTES - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) r[prefix.length + i] = v % 256;
  return r;
}

/** Random picks from one set (see "Distribution" above). */
class Sampler {
  private shape: SetShape | null = null;

  constructor(
    private readonly call: CommandCall,
    private readonly id: number,
    private readonly size: number,
  ) {}

  private get sql(): Sql {
    return this.call.server.sql;
  }

  private readonly rowsAt = (offsets: number[]) => membersAtOffsets(this.sql, this.id, this.size, offsets);

  /**
   * `n` members, chosen independently (members may repeat), in pick order.
   * Fails through `limit` as soon as the picks add up to more bytes than it
   * allows (counting 16 bytes of reply framing per pick).
   */
  withRepeats(n: number, limit?: RandomReplyLimit): Uint8Array[] {
    const out: Uint8Array[] = [];
    const add = (member: Uint8Array) => {
      limit?.addBytes(member.length + 16);
      out.push(member);
    };
    if (this.size <= EXACT_SAMPLE_MAX) {
      for (const member of repeatedPicks(n, this.size, this.rowsAt)) add(member);
      return out;
    }
    for (let i = 0; i < n; i++) add(this.seekRandom());
    return out;
  }

  /** `k` distinct members (k < size), in random order. */
  distinct(k: number): Uint8Array[] {
    if (this.size > EXACT_SAMPLE_MAX && k * 32 <= this.size) {
      const picked = distinctBySeeks(k, () => this.seekRandom(), (member) => member);
      if (picked) return picked;
      // The picks kept landing on the same members (a very uneven set): choose by rank instead.
    }
    return distinctPicks(k, this.size, this.rowsAt);
  }

  private seekRandom(): Uint8Array {
    const shape = (this.shape ??= this.loadShape());
    const mode = randomBelow(SAMPLE_PLAIN_ONE_IN);
    const r = mode === 0 ? this.plainDraw(shape) : shapedDraw(shape.prefix, shape.positions, mode === 1);
    const skip = randomBelow(SAMPLE_WINDOW);
    let rows = r === null
      ? memberPage(this.sql, this.id, null, 1, skip)
      : this.sql.all<MemberRow>(
        `SELECT member FROM set_members WHERE key_id = ? AND member >= ? ORDER BY member LIMIT 1 OFFSET ?`,
        this.id, r, skip,
      ).map((row) => blob(row.member));
    if (rows.length === 0) rows = memberPage(this.sql, this.id, null, 1, randomBelow(SAMPLE_WINDOW));
    if (rows.length === 0) rows = memberPage(this.sql, this.id, null, 1);
    if (rows.length === 0) throw new Error("random pick from an empty set");
    return rows[0];
  }

  /** r uniformly between the smallest and the largest member; null for "the smallest". */
  private plainDraw(shape: SetShape): Uint8Array | null {
    const x = shape.low - 1 + randomBelow(shape.high - shape.low + 1);
    return x < shape.low ? null : plainPoint(shape.prefix, x);
  }

  private loadShape(): SetShape {
    const cache = shapesOf(this.call.server);
    const known = cache.get(this.id, this.size);
    if (known) return known;
    const shape = learnShape(this.sql, this.id, this.size);
    cache.set(this.id, shape);
    return shape;
  }
}

/** SRANDMEMBER with a negative count: see RandomReplyLimit. */
const ERR_RANDOM_REPLY_TOO_LARGE = randomReplyTooLarge("SRANDMEMBER", "members");

function srandmemberWithCount(call: CommandCall): Reply {
  const count = parseInt64(call.argv[2]);
  if (count === null) fail(Errors.notInteger);
  if (count < -LONG_MAX) fail(ERR_COUNT_RANGE);
  const record = call.keys.read(call.db, call.argv[1], KeyType.set);
  if (!record || count === 0n) return EMPTY_ARRAY;
  const sql = call.server.sql;
  const size = record.count;
  const sampler = new Sampler(call, record.id, size);
  if (count < 0n || count === 1n) {
    const magnitude = count < 0n ? -count : count;
    const limit = new RandomReplyLimit(ERR_RANDOM_REPLY_TOO_LARGE);
    limit.checkCount(magnitude);
    return array(bulks(sampler.withRepeats(Number(magnitude), limit)));
  }
  if (count >= BigInt(size)) return array(bulks(replyOrder(allMembers(sql, record.id), call.server.config)));
  return array(bulks(sampler.distinct(Number(count))));
}

function spopWithCount(call: CommandCall): Reply {
  const key = call.argv[1];
  const count = parseInt64(call.argv[2]);
  if (count === null || count < 0n) fail(ERR_MUST_BE_POSITIVE);
  const record = call.keys.lookupType(call.db, key, KeyType.set);
  if (!record || count === 0n) return set([]);
  const sql = call.server.sql;
  const size = record.count;
  if (count >= BigInt(size)) {
    // The whole set: the key goes, and the effect is DEL (as Redis 7.0 propagates it).
    const members = replyOrder(allMembers(sql, record.id), call.server.config);
    call.keys.delete(call.db, key);
    call.dirty += size;
    call.rewrite([DEL_NAME, key]);
    return set(bulks(members));
  }
  const k = Number(count);
  const picked = new Sampler(call, record.id, size).distinct(k);
  removeMembers(sql, record.id, picked);
  call.keys.updateCount(record, size - k);
  call.dirty += k;
  // One SREM per popped member, as Redis 7.0 propagates SPOP with a count
  // (the engine wraps several effects in MULTI/EXEC).
  for (const member of picked) call.alsoPropagate(call.db, [SREM_NAME, key, member]);
  call.noPropagate();
  return set(bulks(picked));
}

// ---- SINTER, SUNION, SDIFF ------------------------------------------------------------------

/** The sets at `keys` (counted reads; null for missing keys); WRONGTYPE at the first key of another type. */
function readSets(call: CommandCall, keys: readonly Uint8Array[]): (KeyRecord | null)[] {
  return keys.map((key) => call.keys.read(call.db, key, KeyType.set));
}

/** Distinct sets, first occurrence first. */
function distinctSets(records: readonly (KeyRecord | null)[]): KeyRecord[] {
  const seen = new Set<number>();
  const out: KeyRecord[] = [];
  for (const record of records) {
    if (record && !seen.has(record.id)) {
      seen.add(record.id);
      out.push(record);
    }
  }
  return out;
}

/** The intersection's sets, smallest first (Redis walks the smallest), or null when one is missing. */
function intersectionPlan(records: readonly (KeyRecord | null)[]): { base: KeyRecord; others: number[] } | null {
  if (records.some((r) => r === null)) return null;
  const sets = distinctSets(records).sort((a, b) => a.count - b.count);
  return { base: sets[0], others: sets.slice(1).map((r) => r.id) };
}

/** The difference's sets: the first, and those to subtract; null when the result is empty for sure. */
function differencePlan(records: readonly (KeyRecord | null)[]): { base: KeyRecord; others: number[] } | null {
  const first = records[0];
  if (!first) return null;
  const others: KeyRecord[] = [];
  for (const record of distinctSets(records.slice(1))) {
    if (record.id === first.id) return null; // a set minus itself
    others.push(record);
  }
  // Largest first: more likely to find a member early (Redis's heuristic).
  others.sort((a, b) => b.count - a.count);
  return { base: first, others: others.map((r) => r.id) };
}

function sinterMembers(call: CommandCall, records: readonly (KeyRecord | null)[]): Uint8Array[] {
  const plan = intersectionPlan(records);
  const out: Uint8Array[] = [];
  if (plan) {
    forEachFiltered(call.server.sql, plan.base.id, plan.others, [], (member) => {
      out.push(member);
      return true;
    });
  }
  return out;
}

function sunionMembers(call: CommandCall, records: readonly (KeyRecord | null)[]): Uint8Array[] {
  const sets = distinctSets(records);
  const sql = call.server.sql;
  if (sets.length === 1) return allMembers(sql, sets[0].id);
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const record of sets) {
    forEachMember(sql, record.id, (member) => {
      const id = latin1(member);
      if (seen.has(id)) return;
      seen.add(id);
      out.push(member);
    });
  }
  return out;
}

function sdiffMembers(call: CommandCall, records: readonly (KeyRecord | null)[]): Uint8Array[] {
  const plan = differencePlan(records);
  const out: Uint8Array[] = [];
  if (plan) {
    forEachFiltered(call.server.sql, plan.base.id, [], plan.others, (member) => {
      out.push(member);
      return true;
    });
  }
  return out;
}

type Operation = "inter" | "union" | "diff";

function setOperation(call: CommandCall, op: Operation, keys: readonly Uint8Array[]): Reply {
  const records = readSets(call, keys);
  const members = op === "inter" ? sinterMembers(call, records)
    : op === "union" ? sunionMembers(call, records)
    : sdiffMembers(call, records);
  return set(bulks(replyOrder(members, call.server.config)));
}

/**
 * SINTERSTORE / SUNIONSTORE / SDIFFSTORE: the result is built in SQL under a
 * temporary key (a database no client can select) and then replaces the
 * destination, whatever its type, without a TTL; an empty result deletes the
 * destination. Sources may include the destination: they are all read before
 * it is replaced.
 */
function storeOperation(call: CommandCall, op: Operation): Reply {
  const destination = call.argv[1];
  const records = readSets(call, call.argv.slice(2));
  const sql = call.server.sql;
  const build = call.keys.createCollection(BUILD_DB, destination, KeyType.set);
  const target = idLiteral(build.id);
  if (op === "union") {
    for (const record of distinctSets(records)) {
      sql.run(
        `INSERT OR IGNORE INTO set_members (key_id, member) SELECT ${target}, member FROM set_members WHERE key_id = ?`,
        record.id,
      );
    }
  } else {
    const plan = op === "inter" ? intersectionPlan(records) : differencePlan(records);
    if (plan) {
      const all = op === "inter" ? plan.others : [];
      const none = op === "diff" ? plan.others : [];
      sql.run(
        `INSERT INTO set_members (key_id, member) SELECT ${target}, a.member FROM set_members a WHERE a.key_id = ?` +
          filterConditions("a", all.slice(0, INLINE_ALL_MAX), none.slice(0, INLINE_NONE_MAX)),
        plan.base.id,
      );
      for (const id of all.slice(INLINE_ALL_MAX)) {
        sql.run(
          `DELETE FROM set_members AS t WHERE t.key_id = ${target} AND NOT EXISTS ` +
            `(SELECT 1 FROM set_members b WHERE b.key_id = ${idLiteral(id)} AND b.member = t.member)`,
        );
      }
      for (let g = INLINE_NONE_MAX; g < none.length; g += INLINE_NONE_MAX) {
        const group = none.slice(g, g + INLINE_NONE_MAX).map(idLiteral).join(", ");
        sql.run(
          `DELETE FROM set_members AS t WHERE t.key_id = ${target} AND EXISTS ` +
            `(SELECT 1 FROM set_members b WHERE b.key_id IN (${group}) AND b.member = t.member)`,
        );
      }
    }
  }
  const size = num(sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM set_members WHERE key_id = ?`, build.id)?.n);
  if (size === 0) {
    call.keys.remove(build);
    if (call.keys.delete(call.db, destination)) call.dirty++;
    return ZERO;
  }
  call.keys.updateCount(build, size);
  call.keys.delete(call.db, destination);
  call.keys.rename(build, call.db, destination);
  call.dirty++;
  return integer(size);
}

// ---- SSCAN --------------------------------------------------------------------------------

/** SSCAN's cursor memory (see collection-scan.ts); 64 rows per SQL statement. */
const sscanPages = new CollectionScan(64);

/** The set's members in byte order, for SSCAN and the random picks. */
function memberRows(sql: Sql, id: number): ScanSource<Uint8Array> {
  return {
    page: (after, skip, limit) => memberPage(sql, id, after, limit, skip),
    member: (member) => member,
    bytes: (member) => member.length,
  };
}

function sscan(call: CommandCall): Reply {
  const opened = openScan(call, KeyType.set);
  if (!opened) return EMPTY_SCAN;
  const { record, scan } = opened;
  const sql = call.server.sql;
  const config = call.server.config;

  // Redis answers an intset whole, in numeric order, with cursor 0, whatever the cursor.
  if (record.count <= SCAN_PAGE_MAX && setEncoding(record, config, sql) === "intset") {
    const members = replyOrder(allMembers(sql, record.id), config);
    return scanReply(0, bulks(members.filter((member) => scanMatches(scan, member))));
  }

  const { cursor, rows } = sscanPages.page(call, record.id, scan, memberRows(sql, record.id));
  return scanReply(cursor, bulks(rows));
}

// ---- commands ----------------------------------------------------------------------------

export const setCommands: HandlerTable = {
  sadd: (call) => {
    const key = call.argv[1];
    const members = call.argv.slice(2);
    let record = call.keys.lookupType(call.db, key, KeyType.set);
    for (const member of members) if (member.length > SET_ELEMENT_MAX) fail(Errors.elementTooLarge);
    record ??= call.keys.createCollection(call.db, key, KeyType.set);
    const added = addMembers(call.server.sql, record.id, members);
    if (added > 0) {
      call.keys.updateCount(record, record.count + added);
      call.dirty += added;
    }
    return integer(added);
  },

  srem: (call) => {
    const record = call.keys.lookupType(call.db, call.argv[1], KeyType.set);
    if (!record) return ZERO;
    const removed = removeMembers(call.server.sql, record.id, call.argv.slice(2));
    if (removed > 0) {
      call.keys.updateCount(record, record.count - removed);
      call.dirty += removed;
    }
    return integer(removed);
  },

  scard: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.set);
    return integer(record ? record.count : 0);
  },

  sismember: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.set);
    return record && isMember(call.server.sql, record.id, call.argv[2]) ? ONE : ZERO;
  },

  smismember: (call) => {
    const record = call.keys.read(call.db, call.argv[1], KeyType.set);
    const members = call.argv.slice(2);
    const found = record ? presentMembers(call.server.sql, record.id, members) : new Set<string>();
    return array(members.map((m) => (found.has(latin1(m)) ? ONE : ZERO)));
  },

  smembers: (call) => setOperation(call, "inter", [call.argv[1]]),

  srandmember: (call) => {
    if (call.argv.length > 3) fail(Errors.syntax);
    if (call.argv.length === 3) return srandmemberWithCount(call);
    const record = call.keys.read(call.db, call.argv[1], KeyType.set);
    if (!record) return NULL;
    const [member] = new Sampler(call, record.id, record.count).withRepeats(1);
    return member ? bulk(member) : NULL;
  },

  spop: (call) => {
    if (call.argv.length > 3) fail(Errors.syntax);
    if (call.argv.length === 3) return spopWithCount(call);
    const key = call.argv[1];
    const record = call.keys.lookupType(call.db, key, KeyType.set);
    if (!record) return NULL;
    const sql = call.server.sql;
    const [member] = new Sampler(call, record.id, record.count).withRepeats(1);
    if (!member || !removeMember(sql, record.id, member)) {
      throw new CommandError(`ERR internal error: set '${latin1(key)}' has no member to pop`);
    }
    call.keys.updateCount(record, record.count - 1);
    call.dirty++;
    call.rewrite([SREM_NAME, key, member]);
    return bulk(member);
  },

  smove: (call) => {
    const [, source, destination, member] = call.argv;
    // Redis looks both keys up before checking either type: a missing source answers 0 first.
    const src = call.keys.lookup(call.db, source);
    let dst = call.keys.lookup(call.db, destination);
    if (!src) return ZERO;
    if (src.type !== KeyType.set || (dst && dst.type !== KeyType.set)) fail(Errors.wrongType);
    const sql = call.server.sql;
    if (dst && dst.id === src.id) return isMember(sql, src.id, member) ? ONE : ZERO;
    if (!removeMember(sql, src.id, member)) return ZERO;
    call.keys.updateCount(src, src.count - 1);
    call.dirty++;
    dst ??= call.keys.createCollection(call.db, destination, KeyType.set);
    if (addMember(sql, dst.id, member)) {
      call.keys.updateCount(dst, dst.count + 1);
      call.dirty++;
    }
    return ONE;
  },

  sinter: (call) => setOperation(call, "inter", call.argv.slice(1)),
  sunion: (call) => setOperation(call, "union", call.argv.slice(1)),
  sdiff: (call) => setOperation(call, "diff", call.argv.slice(1)),
  sinterstore: (call) => storeOperation(call, "inter"),
  sunionstore: (call) => storeOperation(call, "union"),
  sdiffstore: (call) => storeOperation(call, "diff"),

  sintercard: (call) => {
    const argv = call.argv;
    const numkeys = parseInt64(argv[1]);
    if (numkeys === null || numkeys < 1n) fail(ERR_NUMKEYS);
    if (numkeys > BigInt(argv.length - 2)) fail(ERR_TOO_MANY_NUMKEYS);
    const end = 2 + Number(numkeys);
    let limit = 0n;
    for (let i = end; i < argv.length; i++) {
      if (call.option(i) === "limit" && i + 1 < argv.length) {
        i++;
        const n = parseInt64(argv[i]);
        if (n === null || n < 0n) fail(ERR_LIMIT_NEGATIVE);
        limit = n;
      } else {
        fail(Errors.syntax);
      }
    }
    const plan = intersectionPlan(readSets(call, argv.slice(2, end)));
    let cardinality = 0;
    if (plan) {
      forEachFiltered(call.server.sql, plan.base.id, plan.others, [], () => {
        cardinality++;
        return limit === 0n || BigInt(cardinality) < limit;
      });
    }
    return integer(cardinality);
  },

  sscan,
};
