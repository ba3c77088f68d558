/**
 * Order statistics for sorted sets: a two-level count of the score order.
 *
 * ZRANK and ZRANGE by rank ask "how many entries come before this one" and
 * "which entry has rank r". SQLite's b-trees keep no subtree counts, so the
 * score index alone answers both by walking O(rank) rows. Redis's skiplist
 * keeps span counters; tidekv keeps the equivalent in SQL, two levels deep:
 *
 * - Blocks (`zset_blocks(key_id, score, member, n)`) cut a sorted set's
 *   (score, member) order into runs: a block starts at its boundary and
 *   holds the `n` entries from there up to the next block's boundary.
 * - Groups (`zset_groups(key_id, score, member, n, blocks)`) cut the blocks
 *   into runs the same way: every group boundary is a block boundary; a
 *   group holds `blocks` blocks and `n` entries.
 *
 * The first boundary of both is (-inf, empty member), below every entry, so
 * every entry falls in exactly one block and one group. Boundaries need not
 * be entries: removing an entry never moves a boundary.
 *
 * A rank is then a sum over a few dozen groups, a sum over the blocks of one
 * group and a count inside one block: a handful of statements whose work is
 * bounded by the sizes below, a few dozen microseconds for a million entries
 * instead of milliseconds. The sums run inside SQLite (json_group_array of
 * the counts: one row to read, not one per block).
 *
 * Blocks split above 2 x BLOCK entries (BLOCK stay, the rest become a new
 * block) and fold into a neighbour below BLOCK / 2; groups do the same by
 * block count with GROUP. Only the balance depends on these sizes, never the
 * answers: a structure built with other sizes stays correct.
 *
 * Every exported writer runs right after one change to `zset_members`, when
 * all counts are exact except where that change falls: it fixes those
 * counts, then rebalances on an exact state.
 */
import { blob, num, type Sql, type SqlValue } from "../../store/sql.ts";
import { equalBytes } from "../../util/bytes.ts";

interface Sizes {
  /** Entries a splitting block keeps; blocks split above 2x, merge below half. */
  block: number;
  /** Blocks a splitting group keeps; groups split above 2x, merge below half. */
  group: number;
}

const DEFAULT_SIZES: Sizes = { block: 512, group: 64 };
let sizes: Sizes = DEFAULT_SIZES;

/** Changes the sizes (tests use tiny ones to split and merge on small sets); no arguments restores the defaults. */
export function setBlockSizes(block?: number, group?: number): void {
  sizes = block === undefined ? DEFAULT_SIZES : { block, group: group ?? DEFAULT_SIZES.group };
}

/** Sets this small answer rank questions by counting index rows directly. */
export function smallSetMax(): number {
  return 2 * sizes.block;
}

interface Position {
  readonly score: number;
  readonly member: Uint8Array;
}

/** A block or a group: its boundary, entries, and (groups) blocks. */
interface Run extends Position {
  readonly n: number;
  readonly blocks: number;
}

interface RunRow {
  [column: string]: SqlValue;
  score: SqlValue;
  member: SqlValue;
  n: SqlValue;
  blocks: SqlValue;
}

const toRun = (row: RunRow): Run => ({
  score: num(row.score),
  member: blob(row.member),
  n: num(row.n),
  blocks: num(row.blocks),
});

const FIRST: Position = { score: -Infinity, member: new Uint8Array(0) };
const isFirst = (p: Position) => p.score === FIRST.score && p.member.length === 0;

type Level = "zset_blocks" | "zset_groups";
const COLUMNS: Record<Level, string> = { zset_blocks: "score, member, n, 0 AS blocks", zset_groups: "score, member, n, blocks" };

// ---- reading runs -----------------------------------------------------------------------------

/** The run a position falls in: the last boundary at or below it. */
function containing(sql: Sql, level: Level, id: number, at: Position): Run | null {
  const row = sql.one<RunRow>(
    `SELECT ${COLUMNS[level]} FROM ${level} WHERE key_id = ? AND (score, member) <= (?, ?)
     ORDER BY score DESC, member DESC LIMIT 1`,
    id, at.score, at.member,
  );
  return row ? toRun(row) : null;
}

function after(sql: Sql, level: Level, id: number, at: Position): Run | null {
  const row = sql.one<RunRow>(
    `SELECT ${COLUMNS[level]} FROM ${level} WHERE key_id = ? AND (score, member) > (?, ?) ORDER BY score, member LIMIT 1`,
    id, at.score, at.member,
  );
  return row ? toRun(row) : null;
}

function before(sql: Sql, level: Level, id: number, at: Position): Run | null {
  const row = sql.one<RunRow>(
    `SELECT ${COLUMNS[level]} FROM ${level} WHERE key_id = ? AND (score, member) < (?, ?)
     ORDER BY score DESC, member DESC LIMIT 1`,
    id, at.score, at.member,
  );
  return row ? toRun(row) : null;
}

function exactly(sql: Sql, level: Level, id: number, at: Position): Run | null {
  const row = sql.one<RunRow>(
    `SELECT ${COLUMNS[level]} FROM ${level} WHERE key_id = ? AND score = ? AND member = ?`, id, at.score, at.member,
  );
  return row ? toRun(row) : null;
}

// ---- writing runs -----------------------------------------------------------------------------

function setBlock(sql: Sql, id: number, b: Run, n: number): Run {
  sql.run(`UPDATE zset_blocks SET n = ? WHERE key_id = ? AND score = ? AND member = ?`, n, id, b.score, b.member);
  return { ...b, n };
}

function setGroup(sql: Sql, id: number, g: Run, n: number, blocks: number): Run {
  sql.run(
    `UPDATE zset_groups SET n = ?, blocks = ? WHERE key_id = ? AND score = ? AND member = ?`, n, blocks, id, g.score, g.member,
  );
  return { ...g, n, blocks };
}

function drop(sql: Sql, level: Level, id: number, at: Position): void {
  sql.run(`DELETE FROM ${level} WHERE key_id = ? AND score = ? AND member = ?`, id, at.score, at.member);
}

// ---- groups -------------------------------------------------------------------------------------

function splitGroup(sql: Sql, id: number, g: Run): void {
  while (g.blocks > 2 * sizes.group) {
    const at = sql.one<RunRow>(
      `SELECT score, member, 0 AS n, 0 AS blocks FROM zset_blocks WHERE key_id = ? AND (score, member) >= (?, ?)
       ORDER BY score, member LIMIT 1 OFFSET ?`,
      id, g.score, g.member, sizes.group,
    );
    if (!at) throw new Error("zset group block counts disagree with the blocks");
    const upper = toRun(at);
    const next = after(sql, "zset_groups", id, g);
    const moved = num(
      (next === null
        ? sql.one<{ n: number }>(`SELECT SUM(n) AS n FROM zset_blocks WHERE key_id = ? AND (score, member) >= (?, ?)`, id, upper.score, upper.member)
        : sql.one<{ n: number }>(
          `SELECT SUM(n) AS n FROM zset_blocks WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
          id, upper.score, upper.member, next.score, next.member,
        ))?.n,
    );
    const blocks = g.blocks - sizes.group;
    setGroup(sql, id, g, g.n - moved, sizes.group);
    sql.run(`INSERT INTO zset_groups (key_id, score, member, n, blocks) VALUES (?, ?, ?, ?, ?)`, id, upper.score, upper.member, moved, blocks);
    g = { ...upper, n: moved, blocks };
  }
}

/** Folds an undersized group into a neighbour (the previous one; the next one for the first group). */
function mergeGroup(sql: Sql, id: number, g: Run): void {
  if (isFirst(g)) {
    const next = after(sql, "zset_groups", id, g);
    if (next === null) return;
    drop(sql, "zset_groups", id, next);
    splitGroup(sql, id, setGroup(sql, id, g, g.n + next.n, g.blocks + next.blocks));
    return;
  }
  const previous = before(sql, "zset_groups", id, g)!;
  drop(sql, "zset_groups", id, g);
  splitGroup(sql, id, setGroup(sql, id, previous, previous.n + g.n, previous.blocks + g.blocks));
}

function rebalanceGroup(sql: Sql, id: number, g: Run): void {
  if (g.blocks > 2 * sizes.group) splitGroup(sql, id, g);
  else if (g.blocks < sizes.group / 2) mergeGroup(sql, id, g);
}

/** A block boundary appeared at `at` (a block split): its group holds one more block. */
function blockAdded(sql: Sql, id: number, at: Position): void {
  const g = containing(sql, "zset_groups", id, at)!;
  rebalanceGroup(sql, id, setGroup(sql, id, g, g.n, g.blocks + 1));
}

/**
 * The block boundary at `at` went (its entries joined the previous block): a
 * group starting there joins the previous group; otherwise the group holding
 * it has one block fewer.
 */
function blockRemoved(sql: Sql, id: number, at: Position): void {
  const starting = exactly(sql, "zset_groups", id, at);
  if (starting !== null) {
    const previous = before(sql, "zset_groups", id, starting)!;
    drop(sql, "zset_groups", id, starting);
    rebalanceGroup(sql, id, setGroup(sql, id, previous, previous.n + starting.n, previous.blocks + starting.blocks - 1));
    return;
  }
  const g = containing(sql, "zset_groups", id, at)!;
  rebalanceGroup(sql, id, setGroup(sql, id, g, g.n, g.blocks - 1));
}

// ---- blocks -------------------------------------------------------------------------------------

function splitBlock(sql: Sql, id: number, b: Run): void {
  while (b.n > 2 * sizes.block) {
    const at = sql.one<RunRow>(
      `SELECT score, member, 0 AS n, 0 AS blocks FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)
       ORDER BY score, member LIMIT 1 OFFSET ?`,
      id, b.score, b.member, sizes.block,
    );
    if (!at) throw new Error("zset block counts disagree with the members");
    const rest = b.n - sizes.block;
    setBlock(sql, id, b, sizes.block);
    const upper = { ...toRun(at), n: rest };
    sql.run(`INSERT INTO zset_blocks (key_id, score, member, n) VALUES (?, ?, ?, ?)`, id, upper.score, upper.member, rest);
    blockAdded(sql, id, upper);
    b = upper;
  }
}

/** Folds an undersized block into a neighbour (the previous one; the next one for the first block). */
function mergeBlock(sql: Sql, id: number, b: Run): void {
  if (isFirst(b)) {
    const next = after(sql, "zset_blocks", id, b);
    if (next === null) return; // the only block may hold anything down to zero
    drop(sql, "zset_blocks", id, next);
    const merged = setBlock(sql, id, b, b.n + next.n);
    blockRemoved(sql, id, next);
    splitBlock(sql, id, merged);
    return;
  }
  const previous = before(sql, "zset_blocks", id, b)!;
  drop(sql, "zset_blocks", id, b);
  const merged = setBlock(sql, id, previous, previous.n + b.n);
  blockRemoved(sql, id, b);
  splitBlock(sql, id, merged);
}

function rebalanceBlock(sql: Sql, id: number, b: Run): void {
  if (b.n > 2 * sizes.block) splitBlock(sql, id, b);
  else if (b.n < sizes.block / 2) mergeBlock(sql, id, b);
}

// ---- keeping counts: called right after zset_members changed ----------------------------------

/** One entry more (`delta` 1) or fewer (-1) at `at`. */
function adjust(sql: Sql, id: number, at: Position, delta: number): void {
  const b = containing(sql, "zset_blocks", id, at);
  const g = containing(sql, "zset_groups", id, at);
  if (b === null || g === null) {
    if (delta < 0) throw new Error("zset entry deleted from a set without blocks");
    sql.run(`INSERT INTO zset_blocks (key_id, score, member, n) VALUES (?, ?, ?, 1)`, id, FIRST.score, FIRST.member);
    sql.run(`INSERT INTO zset_groups (key_id, score, member, n, blocks) VALUES (?, ?, ?, 1, 1)`, id, FIRST.score, FIRST.member);
    return;
  }
  setGroup(sql, id, g, g.n + delta, g.blocks);
  rebalanceBlock(sql, id, setBlock(sql, id, b, b.n + delta));
}

/** An entry was inserted. */
export function counted(sql: Sql, id: number, score: number, member: Uint8Array): void {
  adjust(sql, id, { score, member }, 1);
}

/** An entry was deleted. */
export function uncounted(sql: Sql, id: number, score: number, member: Uint8Array): void {
  adjust(sql, id, { score, member }, -1);
}

/** Whether two positions fall in the same block (a score change between them moves no count). */
export function sameBlock(sql: Sql, id: number, a: Position, b: Position): boolean {
  const blockA = containing(sql, "zset_blocks", id, a);
  const blockB = containing(sql, "zset_blocks", id, b);
  return blockA !== null && blockB !== null && blockA.score === blockB.score && equalBytes(blockA.member, blockB.member);
}

/**
 * Entries between `low` and `high` (both included, in (score, member)
 * order) were deleted, any number of them. Blocks and groups starting inside
 * the range go; the block and the group holding `low`, which now reach to
 * the next remaining boundaries, are counted again (each at most two runs'
 * worth of rows), then rebalanced.
 */
export function uncountedRange(sql: Sql, id: number, low: Position, high: Position): void {
  const b = containing(sql, "zset_blocks", id, low);
  const g = containing(sql, "zset_groups", id, low);
  if (b === null || g === null) return;
  for (const level of ["zset_blocks", "zset_groups"] as const) {
    const from = level === "zset_blocks" ? b : g;
    sql.run(
      `DELETE FROM ${level} WHERE key_id = ? AND (score, member) > (?, ?) AND (score, member) <= (?, ?)`,
      id, from.score, from.member, high.score, high.member,
    );
  }
  const nextBlock = after(sql, "zset_blocks", id, b);
  const entries = num(
    (nextBlock === null
      ? sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?)`, id, b.score, b.member)
      : sql.one<{ n: number }>(
        `SELECT COUNT(*) AS n FROM zset_members WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
        id, b.score, b.member, nextBlock.score, nextBlock.member,
      ))?.n,
  );
  const block = setBlock(sql, id, b, entries);
  const nextGroup = after(sql, "zset_groups", id, g);
  const totals = nextGroup === null
    ? sql.one<{ n: number; blocks: number }>(
      `SELECT COALESCE(SUM(n), 0) AS n, COUNT(*) AS blocks FROM zset_blocks WHERE key_id = ? AND (score, member) >= (?, ?)`,
      id, g.score, g.member,
    )
    : sql.one<{ n: number; blocks: number }>(
      `SELECT COALESCE(SUM(n), 0) AS n, COUNT(*) AS blocks FROM zset_blocks
       WHERE key_id = ? AND (score, member) >= (?, ?) AND (score, member) < (?, ?)`,
      id, g.score, g.member, nextGroup.score, nextGroup.member,
    );
  // Groups first: block splits and merges below then adjust exact groups.
  rebalanceGroup(sql, id, setGroup(sql, id, g, num(totals?.n), num(totals?.blocks)));
  rebalanceBlock(sql, id, block);
}

/** Moves a key's counts to another key id (a computed result installed under its key). */
export function moveCounts(sql: Sql, from: number, to: number): void {
  sql.run(`UPDATE zset_blocks SET key_id = ? WHERE key_id = ?`, to, from);
  sql.run(`UPDATE zset_groups SET key_id = ? WHERE key_id = ?`, to, from);
}

export function dropCounts(sql: Sql, id: number): void {
  sql.run(`DELETE FROM zset_blocks WHERE key_id = ?`, id);
  sql.run(`DELETE FROM zset_groups WHERE key_id = ?`, id);
}

// ---- ranks ---------------------------------------------------------------------------------------

/** How many entries sort before (score, member) (the forward rank of an entry). */
export function countBefore(sql: Sql, id: number, score: number, member: Uint8Array): number {
  const at = { score, member };
  const g = containing(sql, "zset_groups", id, at);
  const b = containing(sql, "zset_blocks", id, at);
  if (g === null || b === null) return 0;
  const row = sql.one<{ groups: number; blocks: number; inside: number }>(
    `SELECT
       (SELECT COALESCE(SUM(n), 0) FROM zset_groups WHERE key_id = ?1 AND (score, member) < (?2, ?3)) AS groups,
       (SELECT COALESCE(SUM(n), 0) FROM zset_blocks WHERE key_id = ?1 AND (score, member) >= (?2, ?3) AND (score, member) < (?4, ?5)) AS blocks,
       (SELECT COUNT(*) FROM zset_members WHERE key_id = ?1 AND (score, member) >= (?4, ?5) AND (score, member) < (?6, ?7)) AS inside`,
    id, g.score, g.member, b.score, b.member, score, member,
  );
  return num(row?.groups) + num(row?.blocks) + num(row?.inside);
}

/** The counts of up to `limit` runs from `from` on, in order, read as one row. */
function counts(sql: Sql, level: Level, id: number, from: Position, limit: number): number[] {
  const row = sql.one<{ counts: string }>(
    `SELECT json_group_array(n) AS counts FROM
       (SELECT n FROM ${level} WHERE key_id = ? AND (score, member) >= (?, ?) ORDER BY score, member LIMIT ?)`,
    id, from.score, from.member, limit,
  );
  return row ? (JSON.parse(String(row.counts)) as number[]) : [];
}

/** The index of the run holding the `rank`-th entry of `runs` (entries counted from their start), with the entries before it. */
function locate(runs: readonly number[], rank: number): { index: number; skipped: number } | null {
  let skipped = 0;
  for (let i = 0; i < runs.length; i++) {
    if (skipped + runs[i] > rank) return { index: i, skipped };
    skipped += runs[i];
  }
  return null;
}

/** The run at `index` from `from` on, and the one after it. */
function runsAt(sql: Sql, level: Level, id: number, from: Position, index: number): Run[] {
  return sql.all<RunRow>(
    `SELECT ${COLUMNS[level]} FROM ${level} WHERE key_id = ? AND (score, member) >= (?, ?) ORDER BY score, member LIMIT 2 OFFSET ?`,
    id, from.score, from.member, index,
  ).map(toRun);
}

/**
 * Where forward rank `rank` falls: its block, the entries before that block,
 * and the next block's boundary (null for the last block). Null when the
 * set has fewer entries.
 */
export function blockOfRank(
  sql: Sql, id: number, rank: number,
): { block: Run; skipped: number; next: Position | null } | null {
  const inGroups = locate(counts(sql, "zset_groups", id, FIRST, -1), rank);
  if (inGroups === null) return null;
  const [group] = runsAt(sql, "zset_groups", id, FIRST, inGroups.index);
  const inBlocks = locate(counts(sql, "zset_blocks", id, group, group.blocks), rank - inGroups.skipped);
  if (inBlocks === null) throw new Error("zset group counts disagree with its blocks");
  const [block, next] = runsAt(sql, "zset_blocks", id, group, inBlocks.index);
  return { block, skipped: inGroups.skipped + inBlocks.skipped, next: next ?? null };
}
