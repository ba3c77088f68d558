/**
 * Random picks from collections kept in SQL rows ordered by member bytes, as
 * HRANDFIELD, SRANDMEMBER/SPOP and ZRANDMEMBER make them: rows at random
 * offsets, reached by seeks that skip the gaps inside SQLite, or by one paged
 * pass when the offsets are dense; never by loading the collection. Large
 * sets and sorted sets also pick by seeking to random points (their own
 * samplers); `distinctBySeeks` turns such picks into distinct ones.
 */
import { fail } from "../engine/errors.ts";
import { latin1 } from "../util/bytes.ts";
import type { OrderedRows } from "./collection-scan.ts";

export const randomBelow = (n: number): number => Math.floor(Math.random() * n);

/** `k` distinct integers in [0, n), by Floyd's algorithm (memory O(k)). */
export function distinctOffsets(k: number, n: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = randomBelow(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen];
}

/** Shuffles `items` in place (Fisher-Yates) and returns it. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * The rows at the given offsets (in member order) of a collection of `size`
 * rows. Sparse offsets are reached by seeks that skip the gaps inside SQLite
 * (`member > previous ... OFFSET gap`); dense ones by reading the collection
 * in pages of `pageRows`. Either way the work is bounded by the collection's
 * size, and memory holds only the chosen rows.
 */
export function rowsAtOffsets<T>(
  rows: OrderedRows<T>, size: number, offsets: readonly number[], pageRows: number,
): Map<number, T> {
  const sorted = [...offsets].sort((a, b) => a - b);
  const found = new Map<number, T>();
  if (sorted.length * 4 > size) {
    let next = 0;
    let position = 0;
    let after: Uint8Array | null = null;
    while (next < sorted.length) {
      const page = rows.page(after, 0, pageRows);
      for (const row of page) {
        while (next < sorted.length && sorted[next] === position) {
          found.set(position, row);
          next++;
        }
        position++;
      }
      if (page.length < pageRows) break;
      after = rows.member(page[page.length - 1]);
    }
    return found;
  }
  let after: Uint8Array | null = null;
  let previous = -1;
  for (const offset of sorted) {
    if (offset === previous) continue;
    const page = rows.page(after, offset - previous - 1, 1);
    if (page.length === 0) break;
    found.set(offset, page[0]);
    after = rows.member(page[0]);
    previous = offset;
  }
  return found;
}

/**
 * `n` rows picked independently and uniformly among `size` (rows may repeat),
 * in pick order. `rowsAt` reads the rows at the distinct offsets drawn.
 */
export function repeatedPicks<T>(n: number, size: number, rowsAt: (offsets: number[]) => Map<number, T>): T[] {
  const picks = new Uint32Array(n);
  for (let i = 0; i < n; i++) picks[i] = randomBelow(size);
  const rows = rowsAt([...new Set(picks)]);
  const fallback = rows.values().next().value;
  if (fallback === undefined) return []; // the collection vanished under us: cannot happen inside one command
  return Array.from(picks, (offset) => rows.get(offset) ?? fallback);
}

/** `k` distinct rows (k < size) at uniformly random offsets, in random order. */
export function distinctPicks<T>(k: number, size: number, rowsAt: (offsets: number[]) => Map<number, T>): T[] {
  return shuffle([...rowsAt(distinctOffsets(k, size)).values()]);
}

/**
 * `k` distinct rows from repeated `draw`s, in random order. Duplicates are
 * drawn again, as Redis does; null when 4k + 64 draws did not find k distinct
 * members (a skewed collection that keeps repeating itself: pick by offset).
 */
export function distinctBySeeks<T>(k: number, draw: () => T, member: (row: T) => Uint8Array): T[] | null {
  const chosen = new Map<string, T>();
  for (let attempts = 4 * k + 64; attempts > 0 && chosen.size < k; attempts--) {
    const row = draw();
    chosen.set(latin1(member(row)), row);
  }
  return chosen.size === k ? shuffle([...chosen.values()]) : null;
}

/**
 * A negative count repeats members, so the reply does not depend on the
 * collection's size and could be made arbitrarily large (Redis streams it
 * until the client's output buffer limit closes the connection). tidekv
 * refuses replies of more than RANDOM_REPLY_ELEMENTS_MAX elements or about
 * RANDOM_REPLY_BYTES_MAX bytes instead of building them in memory.
 */
const RANDOM_REPLY_ELEMENTS_MAX = 1_000_000;
const RANDOM_REPLY_BYTES_MAX = 64 * 1024 * 1024;

/** The error text for a `command` reply over the limits; `elements` names what it returns ("fields"). */
export function randomReplyTooLarge(command: string, elements: string): string {
  return `ERR ${command} reply too large (at most ${RANDOM_REPLY_ELEMENTS_MAX} ${elements} and ${RANDOM_REPLY_BYTES_MAX} bytes)`;
}

/** Enforces the limits on one reply with repeats, failing with `error`. */
export class RandomReplyLimit {
  private bytes = 0;

  constructor(private readonly error: string) {}

  /** Before picking: the number of picks asked for. */
  checkCount(count: bigint): void {
    if (count > BigInt(RANDOM_REPLY_ELEMENTS_MAX)) fail(this.error);
  }

  /** As the reply grows: adds one element's bytes. */
  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > RANDOM_REPLY_BYTES_MAX) fail(this.error);
  }
}
