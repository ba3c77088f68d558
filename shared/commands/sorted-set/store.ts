/**
 * Sorted sets on SQL: the statements every sorted-set command is built from.
 *
 * Rows live in `zset_members(key_id, member, score)`, primary key
 * (key_id, member), with the index `zset_by_score(key_id, score, member)`.
 * The primary key serves ZSCORE/ZADD/ZREM (one indexed statement each); the
 * index serves everything ordered: ranges by score, by rank near either end,
 * pops, and lex ranges. Ties order by member bytes (SQLite compares BLOBs
 * with memcmp, then by length), which is Redis's order.
 *
 * Every change to the rows also updates the counted blocks (blocks.ts) that
 * make ranks cheap: insertMember, deleteMember, updateScore and
 * deleteWhere are the only writers of zset_members besides whole-key
 * copies and deletions.
 *
 * Members are always bound as BLOBs (Uint8Array): a TEXT parameter would
 * compare below every BLOB. Scores are REAL; -0 is stored as 0.
 */
import { blob, num, type Sql, type SqlParam, type SqlValue } from "../../store/sql.ts";
import { Errors, fail } from "../../engine/errors.ts";
import { blockOfRank, countBefore, counted, sameBlock, smallSetMax, uncounted, uncountedRange } from "./blocks.ts";

/**
 * The largest member a sorted set accepts. A member and its score share one
 * SQLite row (limited to 2 MB on Durable Objects), and the score index holds
 * the member again: 1 MiB keeps both within bounds. Larger members are
 * refused with Errors.elementTooLarge before anything is written.
 */
export const ZSET_ELEMENT_MAX = 1024 * 1024;

/** Rows per SQL page when a command walks many elements. */
export const PAGE_ROWS = 256;

/** A row id no key ever has (keyspace ids are positive): results being built before they replace a key. */
export const SCRATCH_KEY_ID = -1;

export interface Entry {
  readonly member: Uint8Array;
  readonly score: number;
}

interface EntryRow {
  [column: string]: SqlValue;
  member: SqlValue;
  score: SqlValue;
}

const toEntry = (row: EntryRow): Entry => ({ member: blob(row.member), score: num(row.score) });

/** Redis turns -0 into 0 when it stores a score in a listpack; tidekv always does. */
export const storedScore = (score: number): number => (score === 0 ? 0 : score);

export function checkMemberSize(members: readonly Uint8Array[]): void {
  for (const member of members) if (member.length > ZSET_ELEMENT_MAX) fail(Errors.elementTooLarge);
}

/** A WHERE fragment with its parameters. */
export interface Cond {
  readonly sql: string;
  readonly params: readonly SqlParam[];
}

export const cond = (sql: string, ...params: SqlParam[]): Cond => ({ sql, params });

// ---- single members -------------------------------------------------------------------

export function getScore(sql: Sql, id: number, member: Uint8Array): number | null {
  const row = sql.one<{ score: number }>(`SELECT score FROM zset_members WHERE key_id = ? AND member = ?`, id, member);
  return row ? num(row.score) : null;
}

export function insertMember(sql: Sql, id: number, member: Uint8Array, score: number): void {
  score = storedScore(score);
  sql.run(`INSERT INTO zset_members (key_id, member, score) VALUES (?, ?, ?)`, id, member, score);
  counted(sql, id, score, member);
}

/** Changes a member's score from `current`. */
export function updateScore(sql: Sql, id: number, member: Uint8Array, current: number, score: number): void {
  score = storedScore(score);
  if (sameBlock(sql, id, { score: current, member }, { score, member })) {
    sql.run(`UPDATE zset_members SET score = ? WHERE key_id = ? AND member = ?`, score, id, member);
    return;
  }
  // Across blocks: out of one, into the other, each count fixed on an exact state.
  sql.run(`DELETE FROM zset_members WHERE key_id = ? AND member = ?`, id, member);
  uncounted(sql, id, current, member);
  insertMember(sql, id, member, score);
}

export function deleteMember(sql: Sql, id: number, member: Uint8Array): boolean {
  const rows = sql.all<{ score: number }>(`DELETE FROM zset_members WHERE key_id = ? AND member = ? RETURNING score`, id, member);
  if (rows.length === 0) return false;
  uncounted(sql, id, num(rows[0].score), member);
  return true;
}

// ---- order ------------------------------------------------------------------------------

const ASC = "ORDER BY score, member";
const DESC = "ORDER BY score DESC, member DESC";

function whereClause(id: number, conds: readonly Cond[]): [string, SqlParam[]] {
  const parts = ["key_id = ?"];
  const params: SqlParam[] = [id];
  for (const c of conds) {
    parts.push(c.sql);
    params.push(...c.params);
  }
  return [parts.join(" AND "), params];
}

/** The first entry in (score, member) order (the last with `desc`) among those matching `conds`. */
export function edgeEntry(sql: Sql, id: number, desc: boolean, conds: readonly Cond[] = []): Entry | null {
  const [where, params] = whereClause(id, conds);
  const row = sql.one<EntryRow>(
    `SELECT member, score FROM zset_members WHERE ${where} ${desc ? DESC : ASC} LIMIT 1`, ...params,
  );
  return row ? toEntry(row) : null;
}

/**
 * The entries matching `conds` in (score, member) order (reversed with
 * `desc`), skipping `offset`, at most `limit` (Infinity for all), read
 * PAGE_ROWS at a time: the first page by OFFSET, the next ones by seeking
 * past the last row read, so a long walk costs O(offset + rows).
 * Rows already yielded may be deleted by the consumer while it walks.
 */
export function* walk(
  sql: Sql, id: number, conds: readonly Cond[], desc: boolean, offset = 0, limit = Infinity,
): Generator<Entry> {
  let after: Entry | null = null;
  let remaining = limit;
  let skip = offset;
  while (remaining > 0) {
    const size = Math.min(PAGE_ROWS, remaining);
    const all = after === null ? conds : [...conds, cond(`(score, member) ${desc ? "<" : ">"} (?, ?)`, after.score, after.member)];
    const [where, params] = whereClause(id, all);
    const rows = sql.all<EntryRow>(
      `SELECT member, score FROM zset_members WHERE ${where} ${desc ? DESC : ASC} LIMIT ? OFFSET ?`,
      ...params, size, skip,
    );
    skip = 0;
    for (const row of rows) {
      const entry = toEntry(row);
      after = entry;
      yield entry;
    }
    remaining -= rows.length;
    if (rows.length < size) return;
  }
}

/** How many entries match `conds` (an index range count: O(matches) in SQLite). */
export function countWhere(sql: Sql, id: number, conds: readonly Cond[]): number {
  const [where, params] = whereClause(id, conds);
  const row = sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM zset_members WHERE ${where}`, ...params);
  return num(row?.n);
}

/**
 * Deletes the entries matching `conds`, which must select one contiguous
 * stretch of the (score, member) order (a score range, a rank range, a pop);
 * returns how many.
 */
export function deleteWhere(sql: Sql, id: number, conds: readonly Cond[]): number {
  const low = edgeEntry(sql, id, false, conds);
  if (low === null) return 0;
  const high = edgeEntry(sql, id, true, conds)!;
  const [where, params] = whereClause(id, conds);
  const deleted = sql.run(`DELETE FROM zset_members WHERE ${where}`, ...params);
  uncountedRange(sql, id, low, high);
  return deleted;
}

/**
 * The 0-based rank of (score, member) in a set of `length` from the low end
 * (the high end with `reverse`): an index count for small sets, the counted
 * blocks (O(sqrt n)) for large ones.
 */
export function rankOf(sql: Sql, id: number, length: number, score: number, member: Uint8Array, reverse: boolean): number {
  if (length <= smallSetMax()) {
    return countWhere(sql, id, [cond(`(score, member) ${reverse ? ">" : "<"} (?, ?)`, score, member)]);
  }
  const forward = countBefore(sql, id, score, member);
  return reverse ? length - 1 - forward : forward;
}

/**
 * How many entries match `conds`, which select one contiguous stretch of the
 * (score, member) order (a score range, a lex range of equal scores): an
 * index count for small sets; for large ones the distance between the ranks
 * of the stretch's first and last entries, so a wide ZCOUNT does not walk
 * every entry it counts.
 */
export function countStretch(sql: Sql, id: number, length: number, conds: readonly Cond[]): number {
  if (length <= smallSetMax()) return countWhere(sql, id, conds);
  const first = edgeEntry(sql, id, false, conds);
  if (first === null) return 0;
  const last = edgeEntry(sql, id, true, conds)!;
  return countBefore(sql, id, last.score, last.member) - countBefore(sql, id, first.score, first.member) + 1;
}

/** Ranks this close to an end are read by OFFSET from that end; farther ones through the blocks. */
const nearEnd = () => smallSetMax() / 8;

/** The entry at forward rank `rank` of a set of `length`. */
export function entryAtRank(sql: Sql, id: number, length: number, rank: number): Entry | null {
  const fromEnd = length - 1 - rank;
  if (Math.min(rank, fromEnd) > nearEnd()) return entryThroughBlocks(sql, id, length, rank);
  const desc = fromEnd < rank;
  const row = sql.one<EntryRow>(
    `SELECT member, score FROM zset_members WHERE key_id = ? ${desc ? DESC : ASC} LIMIT 1 OFFSET ?`,
    id, desc ? fromEnd : rank,
  );
  return row ? toEntry(row) : null;
}

/** The block holding `rank`, then an OFFSET inside it from whichever of its ends is nearer. */
function entryThroughBlocks(sql: Sql, id: number, length: number, rank: number): Entry | null {
  const found = blockOfRank(sql, id, rank);
  if (found === null) return null;
  const { block, skipped, next } = found;
  const inside = rank - skipped;
  const fromTop = block.n - 1 - inside;
  const row = inside <= fromTop
    ? sql.one<EntryRow>(
      `SELECT member, score FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?) ${ASC} LIMIT 1 OFFSET ?`,
      id, block.score, block.member, inside,
    )
    : next === null
    ? sql.one<EntryRow>(`SELECT member, score FROM zset_members WHERE key_id = ? ${DESC} LIMIT 1 OFFSET ?`, id, fromTop)
    : sql.one<EntryRow>(
      `SELECT member, score FROM zset_members WHERE key_id = ? AND (score, member) < (?, ?) ${DESC} LIMIT 1 OFFSET ?`,
      id, next.score, next.member, fromTop,
    );
  return row ? toEntry(row) : null;
}

/**
 * The entries of forward ranks [first, last] (0 <= first <= last < length):
 * near an end, walked from that end (`desc` tells the order the generator
 * yields them in); elsewhere, from the entry at `first` found through the
 * blocks.
 */
export function rankRange(
  sql: Sql, id: number, length: number, first: number, last: number,
): { desc: boolean; entries: Generator<Entry> } {
  const fromEnd = length - 1 - last;
  if (Math.min(first, fromEnd) > nearEnd()) {
    const start = entryThroughBlocks(sql, id, length, first);
    const conds = start === null ? [] : [cond(`(score, member) >= (?, ?)`, start.score, start.member)];
    return { desc: false, entries: start === null ? empty() : walk(sql, id, conds, false, 0, last - first + 1) };
  }
  const desc = fromEnd < first;
  return { desc, entries: walk(sql, id, [], desc, desc ? fromEnd : first, last - first + 1) };
}

function* empty(): Generator<Entry> {}

/** Entries of (score, member) between two entries, both included. */
export function betweenConds(low: Entry, high: Entry): Cond[] {
  return [
    cond(`(score, member) >= (?, ?)`, low.score, low.member),
    cond(`(score, member) <= (?, ?)`, high.score, high.member),
  ];
}

// ---- whole-set readers in member order (for set operations and ZSCAN) -----------------

/** A page of a zset's entries in member order after `after` (exclusive), skipping `offset`. */
export function memberPage(
  sql: Sql, id: number, after: Uint8Array | null, offset: number, limit: number,
): Entry[] {
  const rows = after === null
    ? sql.all<EntryRow>(
      `SELECT member, score FROM zset_members WHERE key_id = ? ORDER BY member LIMIT ? OFFSET ?`, id, limit, offset,
    )
    : sql.all<EntryRow>(
      `SELECT member, score FROM zset_members WHERE key_id = ? AND member > ? ORDER BY member LIMIT ? OFFSET ?`,
      id, after, limit, offset,
    );
  return rows.map(toEntry);
}

/** Whether some member of the zset is longer than `max` bytes (run only on small sets). */
export function hasMemberLongerThan(sql: Sql, id: number, max: number): boolean {
  return sql.one(`SELECT 1 AS x FROM zset_members WHERE key_id = ? AND LENGTH(member) > ? LIMIT 1`, id, max) !== undefined;
}
