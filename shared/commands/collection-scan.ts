/**
 * HSCAN, SSCAN and ZSCAN (db.c scanGenericCommand) over collections kept in
 * SQL rows ordered by member bytes: argument parsing and the cursor memory
 * they share. Each command supplies how to read its rows and builds its own
 * reply items.
 *
 * The cursor is a number (Redis clients parse it as one), while tidekv pages
 * by member. A cursor is `tag * 2^32 + rank`: `rank` counts the members the
 * iteration has returned, and `tag` names an entry in a small per-node memory
 * holding the last member returned. With that entry the next page is an
 * indexed seek (`member > last`), which never misses a member that existed
 * throughout the iteration, whatever is inserted or deleted meanwhile. A
 * cursor whose entry is gone (the node restarted, was evicted, or the entry
 * aged out) resumes at `OFFSET rank`: still a complete iteration unless
 * members before that position were removed in between. Cursors stay below
 * 2^52.
 */
import { array, bulk, EMPTY_ARRAY, type Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import { Errors, fail } from "../engine/errors.ts";
import type { KeyRecord, KeyType } from "../engine/keyspace.ts";
import { globMatch } from "../util/glob.ts";
import { parseInt64 } from "../util/numbers.ts";

/** Members a scan returns at most per call, whatever COUNT asks (COUNT is a hint). */
export const SCAN_PAGE_MAX = 1024;
/** And at most about this many bytes per call (at least one member). */
const SCAN_BYTES_MAX = 8 * 1024 * 1024;

const RANK_SPAN = 2 ** 32;
const TAG_LIMIT = 2 ** 20;
const CURSOR_ENTRIES_MAX = 4096;
const CURSOR_BYTES_MAX = 8 * 1024 * 1024;
/** Members longer than this are not remembered; their cursor resumes by offset. */
const CURSOR_MEMBER_MAX = 64 * 1024;

const ERR_INVALID_CURSOR = "ERR invalid cursor";
const MAX_ULONG = 2n ** 64n - 1n;

/**
 * Redis's parseScanCursorOrReply: strtoul base 10 of the argument up to a NUL
 * byte. Leading whitespace is refused, a sign is allowed ("-1" wraps), the
 * empty string is cursor 0, and anything past 2^64-1 is out of range.
 */
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
  if (i >= end) return null; // a sign alone: strtoul converts nothing and stops at the sign
  let value = 0n;
  for (; i < end; i++) {
    const c = arg[i];
    if (c < 0x30 || c > 0x39) return null;
    value = value * 10n + BigInt(c - 0x30);
    if (value > MAX_ULONG) return null;
  }
  return negative && value !== 0n ? 2n ** 64n - value : value;
}

/** A scan call's arguments: the cursor, COUNT (capped at SCAN_PAGE_MAX) and MATCH (null for all). */
export interface ScanArguments {
  readonly cursor: bigint;
  readonly count: number;
  readonly pattern: Uint8Array | null;
}

/**
 * Parses `<cmd> key cursor [MATCH pattern] [COUNT count]` in Redis's order:
 * the cursor ("ERR invalid cursor"), then the key (WRONGTYPE when it holds
 * another type), then the options. Returns null for a missing key, which
 * answers EMPTY_SCAN whatever the options say.
 */
export function openScan(call: CommandCall, type: KeyType): { record: KeyRecord; scan: ScanArguments } | null {
  const argv = call.argv;
  const cursor = parseScanCursor(argv[2]);
  if (cursor === null) fail(ERR_INVALID_CURSOR);
  const record = call.keys.read(call.db, argv[1], type);
  if (!record) return null;
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
  return { record, scan: { cursor, count, pattern } };
}

/** The reply to a scan of a missing key. */
export const EMPTY_SCAN: Reply = Object.freeze(array(Object.freeze([bulk("0"), EMPTY_ARRAY])));

/** `[cursor, items]`; cursor 0 ends the iteration. */
export function scanReply(cursor: number, items: readonly Reply[]): Reply {
  return array([bulk(String(cursor)), array(items)]);
}

/** Whether `member` passes the scan's MATCH pattern. */
export function scanMatches(scan: ScanArguments, member: Uint8Array): boolean {
  return scan.pattern === null || globMatch(scan.pattern, member);
}

/** A collection's rows in member (byte) order, read in pages (also used by the random picks). */
export interface OrderedRows<T> {
  /** At most `limit` rows after `after` (exclusive) when given, else from the start skipping `skip` rows. */
  page(after: Uint8Array | null, skip: number, limit: number): readonly T[];
  member(row: T): Uint8Array;
}

/** How a scan reads one collection's rows. */
export interface ScanSource<T> extends OrderedRows<T> {
  /** Whether a member follows `after` (by default: a one-row page). */
  hasMoreAfter?(after: Uint8Array): boolean;
  /** Bytes a row counts towards a call's byte bound. */
  bytes(row: T): number;
}

interface ScanPosition {
  readonly db: number;
  readonly keyId: number;
  readonly last: Uint8Array;
  readonly rank: number;
}

/** The per-node memory of positions, bounded in entries and bytes (oldest dropped first). */
class ScanCursors {
  private readonly entries = new Map<number, ScanPosition>();
  private bytes = 0;
  private tag = 0;

  issue(position: ScanPosition): number {
    this.tag = (this.tag % (TAG_LIMIT - 1)) + 1;
    const cursor = this.tag * RANK_SPAN + Math.min(position.rank, RANK_SPAN - 1);
    this.drop(cursor);
    if (position.last.length > CURSOR_MEMBER_MAX) return cursor;
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

/**
 * One command's scan: a cursor memory per node (per server object), and the
 * paging loop. `batch` is how many rows one SQL statement reads.
 */
export class CollectionScan {
  private readonly memories = new WeakMap<object, ScanCursors>();

  constructor(private readonly batch: number) {}

  /**
   * The next page of the iteration `scan.cursor` names, over the collection
   * with key id `keyId`: at most `scan.count` rows examined, and about
   * SCAN_BYTES_MAX bytes. Returns the rows that match `scan.pattern` and the
   * cursor to continue with (0 when the iteration is complete).
   */
  page<T>(call: CommandCall, keyId: number, scan: ScanArguments, source: ScanSource<T>): { cursor: number; rows: T[] } {
    const cursors = this.cursorsOf(call.server);
    const resumed = scan.cursor === 0n ? undefined : cursors.find(scan.cursor);
    let after: Uint8Array | null = null;
    let skip = 0;
    let rank = 0;
    if (resumed && resumed.db === call.db && resumed.keyId === keyId) {
      after = resumed.last;
      rank = resumed.rank;
    } else if (scan.cursor !== 0n) {
      rank = Number(scan.cursor % BigInt(RANK_SPAN));
      skip = rank;
    }
    const wanted = scan.count;
    const rows: T[] = [];
    let taken = 0;
    let bytes = 0;
    let last: Uint8Array | null = null;
    let exhausted = false;
    while (taken < wanted && bytes < SCAN_BYTES_MAX) {
      const limit = Math.min(this.batch, wanted - taken);
      const page = source.page(after, skip, limit);
      skip = 0;
      let used = 0;
      for (const row of page) {
        const member = source.member(row);
        if (scanMatches(scan, member)) rows.push(row);
        bytes += source.bytes(row);
        last = after = member;
        taken++;
        used++;
        if (bytes >= SCAN_BYTES_MAX) break;
      }
      if (used === page.length && page.length < limit) {
        exhausted = true;
        break;
      }
    }
    if (!exhausted && last !== null) {
      exhausted = source.hasMoreAfter ? !source.hasMoreAfter(last) : source.page(last, 0, 1).length === 0;
    }
    if (exhausted || last === null) return { cursor: 0, rows };
    return { cursor: cursors.issue({ db: call.db, keyId, last, rank: rank + taken }), rows };
  }

  private cursorsOf(server: object): ScanCursors {
    let cursors = this.memories.get(server);
    if (!cursors) this.memories.set(server, (cursors = new ScanCursors()));
    return cursors;
  }
}
