/**
 * The logical size of an SQLite database from its files, without opening it:
 * page count x page size as of the last commit, the figure
 * `PRAGMA page_count * page_size` (and a Durable Object's
 * `ctx.storage.sql.databaseSize`) would give after a checkpoint.
 *
 * workerd keeps Durable Object databases in WAL mode and may leave the WAL
 * un-checkpointed when it stops, so the main file alone is too small and
 * main + WAL is too big (the WAL holds every committed version of a page).
 * The last valid commit frame in the WAL records the database size in pages;
 * with no such frame, the main file's header does.
 *
 * File formats: https://www.sqlite.org/fileformat2.html (database header,
 * WAL header and frame headers). Frames count as valid while their salts
 * match the WAL header's (checksums are not verified: measure a database no
 * one is writing).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

export interface SqliteSize {
  pageSize: number;
  pages: number;
  /** pages x pageSize */
  bytes: number;
  /** Where the page count came from. */
  source: "wal" | "header" | "file";
}

function readAt(fd: number, pos: number, len: number): Buffer | undefined {
  const buf = Buffer.alloc(len);
  return readSync(fd, buf, 0, len, pos) === len ? buf : undefined;
}

export function sqliteLogicalSize(file: string): SqliteSize | undefined {
  let pageSize = 0;
  let pages = 0;
  let source: SqliteSize["source"] = "file";
  if (existsSync(file) && statSync(file).size >= 100) {
    const fd = openSync(file, "r");
    try {
      const h = readAt(fd, 0, 100);
      if (h && h.toString("latin1", 0, 15) === "SQLite format 3") {
        const ps = h.readUInt16BE(16);
        pageSize = ps === 1 ? 65536 : ps;
        const inHeader = h.readUInt32BE(28);
        const size = statSync(file).size;
        // The in-header size is valid when the change counters agree (offsets 24 and 92).
        if (inHeader > 0 && h.readUInt32BE(24) === h.readUInt32BE(92)) {
          pages = inHeader;
          source = "header";
        } else pages = Math.floor(size / pageSize);
      }
    } finally {
      closeSync(fd);
    }
  }
  const wal = `${file}-wal`;
  if (existsSync(wal) && statSync(wal).size >= 32) {
    const fd = openSync(wal, "r");
    try {
      const h = readAt(fd, 0, 32);
      const magic = h?.readUInt32BE(0);
      if (h && (magic === 0x377f0682 || magic === 0x377f0683)) {
        const walPageSize = h.readUInt32BE(8);
        const salt1 = h.readUInt32BE(16);
        const salt2 = h.readUInt32BE(20);
        const walSize = statSync(wal).size;
        for (let pos = 32; pos + 24 + walPageSize <= walSize; pos += 24 + walPageSize) {
          const f = readAt(fd, pos, 24);
          if (!f || f.readUInt32BE(8) !== salt1 || f.readUInt32BE(12) !== salt2) break;
          const commitPages = f.readUInt32BE(4);
          if (commitPages > 0) {
            pages = commitPages;
            pageSize = walPageSize;
            source = "wal";
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  if (!pageSize) return undefined;
  return { pageSize, pages, bytes: pages * pageSize, source };
}
