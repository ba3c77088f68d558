/**
 * Order statistics for sorted sets: counted blocks of the score order.
 *
 * ZRANK and ZRANGE by rank ask "how many entries come before this one" and
 * "which entry has rank r". SQLite's b-trees keep no subtree counts, so the
 * score index alone answers both by walking O(rank) rows. Redis's skiplist
 * keeps span counters; tidekv keeps the equivalent in SQL, one level deep:
 *
 * Each sorted set's (score, member) order is cut into blocks, one row each in
 * `zset_blocks(key_id, score, member, n)`. A block starts at its boundary
 * (score, member) and holds the `n` entries from there up to the next
 * block's boundary. The first block's boundary is (-inf, empty member),
 * below every entry, so every entry falls in exactly one block. Boundaries
 * need not be entries: removing an entry never moves a boundary.
 *
 * A rank is a sum of `n` over the blocks before an entry's block plus a
 * count inside that block: O(n / BLOCK + BLOCK) index rows, about 2 sqrt(n)
 * for a million entries, instead of O(n).
 *
 * Blocks split above SPLIT_ABOVE entries (the first BLOCK entries stay, the
 * rest become a new block) and fold into a neighbour below MERGE_BELOW, so
 * every block but the first holds at least MERGE_BELOW entries (a set has
 * at most n / MERGE_BELOW + 1 blocks) and a block never holds more than
 * SPLIT_ABOVE. Only the sizes' balance depends on these numbers, never the
 * answers: a structure built with other sizes stays correct.
 *
 * Every function here runs right after one change to `zset_members`, with
 * all counts exact except where that change falls; it fixes that count, then
 * rebalances on an exact state.
 */
import { blob, num, type Sql, type SqlValue } from "../../store/sql.ts";
import { equalBytes } from "../../util/bytes.ts";

interface Sizes {
  /** Entries a split leaves in the lower block. */
  block: number;
  splitAbove: number;
  mergeBelow: number;
}

const DEFAULT_SIZES: Sizes = { block: 1024, splitAbove: 2048, mergeBelow: 512 };
let sizes: Sizes = DEFAULT_SIZES;

/**
 * Changes the block sizes (tests use tiny blocks to exercise splits and
 * merges on small sets). `block` entries stay in a splitting block; blocks
 * split above 2 x block and merge below block / 2. No argument restores the
 * defaults.
 */
export function setBlockSize(block?: number): void {
  sizes = block === undefined ? DEFAULT_SIZES : { block, splitAbove: 2 * block, mergeBelow: Math.floor(block / 2) };
}

/** Sets this small answer rank questions by counting index rows directly. */
export function smallSetMax(): number {
  return sizes.splitAbove;
}

interface Block {
  readonly score: number;
  readonly member: Uint8Array;
  readonly n: number;
}

interface BlockRow {
  [column: string]: SqlValue;
  score: SqlValue;
  member: SqlValue;
  n: SqlValue;
}

const toBlock = (row: BlockRow): Block => ({ score: num(row.score), member: blob(row.member), n: num(row.n) });

const FIRST_SCORE = -Infinity;
const FIRST_MEMBER = new Uint8Array(0);

const isFirst = (b: Block) => b.score === FIRST_SCORE && b.member.length === 0;
const sameBoundary = (a: Block, b: Block) => a.score === b.score && equalBytes(a.member, b.member);

// ---- reading blocks ---------------------------------------------------------------------------

/** The block an entry (or position) falls in: the last boundary at or below it. */
function containing(sql: Sql, id: number, score: number, member: Uint8Array): Block | null {
  const row = sql.one<BlockRow>(
    `SELECT score, member, n FROM zset_blocks WHERE key_id = ? AND (score, member) <= (?, ?)
     ORDER BY score DESC, member DESC LIMIT 1`,
    id, score, member,
  );
  return row ? toBlock(row) : null;
}

function nextBlock(sql: Sql, id: number, b: Block): Block | null {
  const row = sql.one<BlockRow>(
    `SELECT score, member, n FROM zset_blocks WHERE key_id = ? AND (score, member) > (?, ?)
     ORDER BY score, member LIMIT 1`,
    id, b.score, b.member,
  );
  return row ? toBlock(row) : null;
}

function previousBlock(sql: Sql, id: number, b: Block): Block | null {
  const row = sql.one<BlockRow>(
    `SELECT score, member, n FROM zset_blocks WHERE key_id = ? AND (score, member) < (?, ?)
     ORDER BY score DESC, member DESC LIMIT 1`,
    id, b.score, b.member,
  );
  return row ? toBlock(row) : null;
}

// ---- writing blocks ---------------------------------------------------------------------------

function setCount(sql: Sql, id: number, b: Block, n: number): Block {
  sql.run(`UPDATE zset_blocks SET n = ? WHERE key_id = ? AND score = ? AND member = ?`, n, id, b.score, b.member);
  return { ...b, n };
}

function dropBlock(sql: Sql, id: number, b: Block): void {
  sql.run(`DELETE FROM zset_blocks WHERE key_id = ? AND score = ? AND member = ?`, id, b.score, b.member);
}

/** Splits an oversized block until every piece holds at most splitAbove entries. */
function split(sql: Sql, id: number, b: Block): void {
  while (b.n > sizes.splitAbove) {
    const at = sql.one<BlockRow>(
      `SELECT score, member, 0 AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)
       ORDER BY score, member LIMIT 1 OFFSET ?`,
      id, b.score, b.member, sizes.block,
    );
    if (!at) throw new Error("zset block counts disagree with the members");
    const rest = b.n - sizes.block;
    setCount(sql, id, b, sizes.block);
    const upper = { ...toBlock(at), n: rest };
    sql.run(`INSERT INTO zset_blocks (key_id, score, member, n) VALUES (?, ?, ?, ?)`, id, upper.score, upper.member, rest);
    b = upper;
  }
}

/** Folds an undersized block into a neighbour (the previous one; the next one for the first block). */
function merge(sql: Sql, id: number, b: Block): void {
  if (isFirst(b)) {
    const next = nextBlock(sql, id, b);
    if (next === null) return; // the only block may hold anything down to zero
    dropBlock(sql, id, next);
    split(sql, id, setCount(sql, id, b, b.n + next.n));
    return;
  }
  const previous = previousBlock(sql, id, b)!;
  dropBlock(sql, id, b);
  split(sql, id, setCount(sql, id, previous, previous.n + b.n));
}

function rebalance(sql: Sql, id: number, b: Block): void {
  if (b.n > sizes.splitAbove) split(sql, id, b);
  else if (b.n < sizes.mergeBelow) merge(sql, id, b);
}

// ---- keeping counts: called right after zset_members changed ----------------------------------

/** An entry was inserted. */
export function counted(sql: Sql, id: number, score: number, member: Uint8Array): void {
  const b = containing(sql, id, score, member);
  if (b === null) {
    sql.run(`INSERT INTO zset_blocks (key_id, score, member, n) VALUES (?, ?, ?, 1)`, id, FIRST_SCORE, FIRST_MEMBER);
    return;
  }
  rebalance(sql, id, setCount(sql, id, b, b.n + 1));
}

/** An entry was deleted. */
export function uncounted(sql: Sql, id: number, score: number, member: Uint8Array): void {
  const b = containing(sql, id, score, member);
  if (b === null) throw new Error("zset entry deleted from a set without blocks");
  rebalance(sql, id, setCount(sql, id, b, b.n - 1));
}

/** Whether two positions fall in the same block (a score change between them moves no count). */
export function sameBlock(sql: Sql, id: number, a: { score: number; member: Uint8Array }, b: { score: number; member: Uint8Array }): boolean {
  const blockA = containing(sql, id, a.score, a.member);
  const blockB = containing(sql, id, b.score, b.member);
  return blockA !== null && blockB !== null && sameBoundary(blockA, blockB);
}

/**
 * Entries between `low` and `high` (both included, in (score, member)
 * order) were deleted, any number of them: the blocks starting inside the
 * range are dropped and the block holding `low`, which now reaches to the
 * next remaining boundary, is counted again (at most two blocks' worth of
 * rows).
 */
export function uncountedRange(
  sql: Sql, id: number, low: { score: number; member: Uint8Array }, high: { score: number; member: Uint8Array },
): void {
  const b = containing(sql, id, low.score, low.member);
  if (b === null) return;
  sql.run(
    `DELETE FROM zset_blocks WHERE key_id = ? AND (score, member) > (?, ?) AND (score, member) <= (?, ?)`,
    id, b.score, b.member, high.score, high.member,
  );
  const next = nextBlock(sql, id, b);
  const row = next === null
    ? sql.one<{ n: number }>(
      `SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)`, id, b.score, b.member,
    )
    : sql.one<{ n: number }>(
      `SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
      id, b.score, b.member, next.score, next.member,
    );
  rebalance(sql, id, setCount(sql, id, b, num(row?.n)));
}

/** Moves a key's blocks to another key id (a computed result installed under its key). */
export function moveBlocks(sql: Sql, from: number, to: number): void {
  sql.run(`UPDATE zset_blocks SET key_id = ? WHERE key_id = ?`, to, from);
}

export function dropAllBlocks(sql: Sql, id: number): void {
  sql.run(`DELETE FROM zset_blocks WHERE key_id = ?`, id);
}

// ---- ranks ---------------------------------------------------------------------------------------

/** How many entries sort before (score, member) (the forward rank of an entry). */
export function countBefore(sql: Sql, id: number, score: number, member: Uint8Array): number {
  const b = containing(sql, id, score, member);
  if (b === null) return 0;
  const row = sql.one<{ before: number; inside: number }>(
    `SELECT
       (SELECT COALESCE(SUM(n), 0) FROM zset_blocks WHERE key_id = ?1 AND (score, member) < (?2, ?3)) AS before,
       (SELECT COUNT(*) FROM zset_members WHERE key_id = ?1 AND (score, member) >= (?2, ?3) AND (score, member) < (?4, ?5)) AS inside`,
    id, b.score, b.member, score, member,
  );
  return num(row?.before) + num(row?.inside);
}

interface RankBlockRow extends BlockRow {
  skipped: SqlValue;
  next_score: SqlValue;
  next_member: SqlValue;
}

/**
 * Where forward rank `rank` falls: its block, the entries before that block,
 * and the next block's boundary (null for the last block). Null when the
 * set has fewer entries.
 */
export function blockOfRank(
  sql: Sql, id: number, rank: number,
): { block: Block; skipped: number; next: { score: number; member: Uint8Array } | null } | null {
  const row = sql.one<RankBlockRow>(
    `SELECT score, member, n, upto - n AS skipped, next_score, next_member FROM (
       SELECT score, member, n,
              SUM(n) OVER w AS upto,
              LEAD(score) OVER w AS next_score,
              LEAD(member) OVER w AS next_member
       FROM zset_blocks WHERE key_id = ?
       WINDOW w AS (ORDER BY score, member ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
     ) WHERE upto > ? ORDER BY score, member LIMIT 1`,
    id, rank,
  );
  if (!row) return null;
  const next = row.next_member === null ? null : { score: num(row.next_score), member: blob(row.next_member) };
  return { block: toBlock(row), skipped: num(row.skipped), next };
}
