/**
 * SQLite bytes per key: 100k string keys with 100-byte values loaded into a
 * fresh node (pipelined MSET batches), measured as the size of that node's
 * SQLite file in wrangler's data directory (<persist>/v3/do/<script>-NodeDO/).
 *
 * A second fresh node that only answered PING (schema, no keys) is the
 * baseline, so bytes/key = (loaded database - empty database) / keys, on the
 * databases' logical size (pages x page size as of the last commit, read
 * from the file and its WAL: lib/sqlite-size.ts). The files are measured
 * again after the server has stopped; the raw on-disk sizes (main file and
 * WAL) are kept in the result too.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { encodeCommand } from "../shared/resp/index.ts";
import { LoadConnection } from "./lib/connection.ts";
import { msetBatches } from "./lib/data.ts";
import { preload } from "./lib/preload.ts";
import { sqliteLogicalSize, type SqliteSize } from "./lib/sqlite-size.ts";
import type { TidekvHost } from "./systems/tidekv.ts";

export interface FileSize {
  /** The .sqlite file on disk. */
  db: number;
  /** Its -wal file on disk (0 when absent). */
  wal: number;
  /** The database's logical size (what a checkpoint would leave). */
  logical?: SqliteSize;
}

export interface StorageResult {
  keys: number;
  valueSize: number;
  loadSeconds: number;
  /** The loaded node's file and the empty baseline node's file. */
  file: string;
  live: { loaded: FileSize; empty: FileSize };
  afterStop?: { loaded: FileSize; empty: FileSize };
  /** (loaded - empty) / keys on the logical sizes; after stop when available, else live. */
  bytesPerKey: number;
  /** loaded / keys on the logical size, schema and free pages included. */
  bytesPerKeyGross: number;
  /** (loaded - empty) / keys on the files on disk (main file + WAL). */
  bytesPerKeyOnDisk: number;
  note?: string;
}

const EMPTY_NODE = "bench-storage-empty";
const LOADED_NODE = "bench-storage";

function sqliteFiles(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".sqlite")) out.set(p, statSync(p).size);
    }
  };
  walk(root);
  return out;
}

function sizeOf(file: string): FileSize {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return { db: size(file), wal: size(`${file}-wal`), logical: sqliteLogicalSize(file) };
}

const onDisk = (s: FileSize) => s.db + s.wal;
const logical = (s: FileSize) => s.logical?.bytes ?? NaN;

/** Opens a fresh node, PINGs it (so its SQLite file exists) and returns the file that appeared. */
async function freshNodeFile(host: TidekvHost, name: string): Promise<{ conn: LoadConnection; file: string }> {
  const doRoot = join(host.persistDir, "v3", "do");
  const before = sqliteFiles(doRoot);
  const conn = await LoadConnection.open({ kind: "ws", url: host.server.wsUrl(`/node/${name}`) });
  const [pong] = await conn.request(encodeCommand(["PING"]), 1);
  if (pong.type === "error") throw new Error(`PING on node ${name}: ${pong.value}`);
  const fresh = [...sqliteFiles(doRoot).keys()].filter((f) => !before.has(f) && /NodeDO/.test(f));
  if (fresh.length !== 1) {
    await conn.close();
    throw new Error(`expected one new NodeDO .sqlite file under ${doRoot} for node ${name}, found ${fresh.length}`);
  }
  return { conn, file: fresh[0] };
}

export interface StorageRun {
  /** Call after the host has stopped: measures again and returns the result. */
  finish(): StorageResult;
}

export async function loadStorage(
  host: TidekvHost,
  keys: number,
  valueSize: number,
  onProgress?: (done: number, total: number) => void,
): Promise<StorageRun> {
  const empty = await freshNodeFile(host, EMPTY_NODE);
  await empty.conn.close();
  const loaded = await freshNodeFile(host, LOADED_NODE);
  const started = performance.now();
  try {
    await preload(loaded.conn, msetBatches("storage", keys, valueSize, 4242, 500, 8), (n) => onProgress?.(n, keys));
    const [size] = await loaded.conn.request(encodeCommand(["DBSIZE"]), 1);
    if (size.type !== "integer" || Number(size.value) !== keys) {
      throw new Error(`after loading ${keys} keys, DBSIZE answered ${JSON.stringify(size)}`);
    }
  } finally {
    await loaded.conn.close();
  }
  const loadSeconds = (performance.now() - started) / 1000;
  const live = { loaded: sizeOf(loaded.file), empty: sizeOf(empty.file) };
  return {
    finish(): StorageResult {
      const after = { loaded: sizeOf(loaded.file), empty: sizeOf(empty.file) };
      const gone = after.loaded.db === 0;
      const basis = gone ? live : after;
      return {
        keys,
        valueSize,
        loadSeconds,
        file: loaded.file,
        live,
        afterStop: gone ? undefined : after,
        bytesPerKey: (logical(basis.loaded) - logical(basis.empty)) / keys,
        bytesPerKeyGross: logical(basis.loaded) / keys,
        bytesPerKeyOnDisk: (onDisk(basis.loaded) - onDisk(basis.empty)) / keys,
        note: gone ? "the data directory was gone after stop; live sizes used" : undefined,
      };
    },
  };
}
