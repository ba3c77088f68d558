/**
 * Moving a slot's keys between masters (live resharding): what Redis's
 * `MIGRATE host port "" 0 timeout REPLACE KEYS ...` does between two cluster
 * nodes. The source runs migrateBatch while its host keeps every other
 * command out (durable/node-do.ts `migrateKeys`, as MIGRATE blocks Redis):
 *
 *   on the source   up to N keys of the slot, each as DEL plus the commands
 *                   that recreate it (the full-sync serializer: every type,
 *                   large values and TTLs travel the same way), sent in
 *                   chunks of bounded size as they are read
 *   on the target   importKeys runs each chunk (REPLACE semantics), and its
 *                   replicas get it like any write
 *   on the source   once the target has them all, DEL (replicated)
 *
 * No write can land between the copy and the delete, so none is lost. A
 * batch that fails before the delete leaves the keys on the source; running
 * it again replaces whatever part reached the target (each key starts with
 * DEL). A key's commands may span several chunks, and the target's copy of it
 * is incomplete in between; clients never see it then, because the source
 * still has the key and keeps serving it (the target answers for the slot
 * only to clients the source sent there with ASK).
 */
import { encodeCommand, RequestParser } from "../resp/index.ts";
import type { Client } from "../engine/client.ts";
import type { Node } from "../engine/node.ts";
import { Blocked } from "../engine/blocking.ts";
import { keyCommands } from "../replication/serialize.ts";
import { blob, num, type Sql } from "../store/sql.ts";
import { concat } from "../util/bytes.ts";
import { SLOT_COUNT } from "./slot.ts";

const encoder = new TextEncoder();

/** Bytes of commands per import call (well under a Workers RPC message, and a bounded copy in memory). */
export const CHUNK_BYTES = 1024 * 1024;
/** Bytes after which a batch takes no further key: bounds how long the source is held. */
export const BATCH_BYTES = 8 * 1024 * 1024;

export interface MigrateResult {
  /** Keys that left the source in this batch. */
  readonly moved: number;
  /** Keys of the slot still on the source. */
  readonly remaining: number;
}

export interface BatchLimits {
  readonly count: number;
  readonly chunkBytes?: number;
  readonly batchBytes?: number;
}

/**
 * Moves up to `limits.count` keys of `slot` (fewer once BATCH_BYTES are
 * sent; always at least one), handing encoded commands to `send` chunk by
 * chunk. The host must keep other commands off this node until it resolves.
 */
export async function migrateBatch(
  node: Node,
  slot: number,
  limits: BatchLimits,
  send: (commands: Uint8Array[]) => Promise<void>,
): Promise<MigrateResult> {
  checkSlot(slot);
  if (node.replication.isReplica) throw new Error("a replica cannot migrate keys (its master owns them)");
  const chunkBytes = limits.chunkBytes ?? CHUNK_BYTES;
  const batchBytes = limits.batchBytes ?? BATCH_BYTES;
  const server = node.server;
  const keyspace = server.keyspace;
  keyspace.now = node.host.now();
  const taken: Uint8Array[] = [];
  let chunk: Uint8Array[] = [];
  let chunkSize = 0;
  let sent = 0;
  const add = async (command: Uint8Array) => {
    chunk.push(command);
    chunkSize += command.length;
    if (chunkSize < chunkBytes) return;
    const full = chunk;
    sent += chunkSize;
    chunk = [];
    chunkSize = 0;
    await send(full);
  };
  for (const key of keysInSlot(server.sql, slot, Math.max(1, Math.floor(limits.count)))) {
    if (taken.length > 0 && sent + chunkSize >= batchBytes) break;
    taken.push(key);
    const record = keyspace.find(0, key);
    if (record === null || keyspace.isExpired(record)) continue; // dropped, not sent
    await add(encodeCommand([encoder.encode("DEL"), key]));
    for (const command of keyCommands(server.sql, record)) await add(command);
  }
  if (chunk.length > 0) await send(chunk);
  dropKeys(node, taken);
  return { moved: taken.length, remaining: countKeysOfSlot(server.sql, slot) };
}

/**
 * Runs a chunk of migrated commands as the node's own master link would: no ACL or
 * slot checks (the target is importing a slot it does not serve yet), and
 * every write replicated. Throws on the first error reply.
 */
export function importKeys(node: Node, commands: readonly Uint8Array[]): void {
  if (node.replication.isReplica) throw new Error(`${node.host.nodeName} is a replica: keys migrate to masters only`);
  const parser = new RequestParser({ maxBulkLength: Number.MAX_SAFE_INTEGER, maxMultibulkLength: Number.MAX_SAFE_INTEGER });
  for (const bytes of commands) parser.feed(bytes);
  withInternalClient(node, (run) => {
    for (let argv = parser.next(); argv !== null; argv = parser.next()) {
      if (argv instanceof Error) throw new Error(`bad import command: ${argv.message}`);
      run(argv);
    }
  });
}

/** Deletes keys that reached their new master (replicated as DEL). */
function dropKeys(node: Node, keys: readonly Uint8Array[]): void {
  if (keys.length === 0) return;
  withInternalClient(node, (run) => run([encoder.encode("DEL"), ...keys]));
}

/** How many keys of `slot` the node holds (CLUSTER COUNTKEYSINSLOT). */
export function countKeysOfSlot(sql: Sql, slot: number): number {
  const row = sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM keyspace WHERE slot = ? AND db = 0`, slot);
  return num(row?.n);
}

/** Up to `count` keys of `slot` in db 0, oldest first (CLUSTER GETKEYSINSLOT). */
export function keysInSlot(sql: Sql, slot: number, count: number): Uint8Array[] {
  const rows = sql.all<{ id: number; key: ArrayBuffer; long_key: number }>(
    `SELECT id, key, long_key FROM keyspace WHERE slot = ? AND db = 0 ORDER BY id LIMIT ?`,
    slot, count,
  );
  return rows.map((row) => {
    if (!num(row.long_key)) return blob(row.key).slice();
    // A key longer than the inline limit is stored in chunks (its row holds a digest).
    const chunks = sql.all<{ data: ArrayBuffer }>(`SELECT data FROM key_chunks WHERE key_id = ? ORDER BY seq`, num(row.id));
    return concat(chunks.map((c) => blob(c.data)));
  });
}

function withInternalClient(node: Node, body: (run: (argv: Uint8Array[]) => void) => void): void {
  const server = node.server;
  const client: Client = server.createClient("migration", "127.0.0.1:0");
  client.role = "master";
  try {
    body((argv) => {
      const reply = server.execute(client, argv);
      if (reply instanceof Blocked) throw new Error(`'${new TextDecoder().decode(argv[0])}' blocked during a key migration`);
      if (reply.type === "error") throw new Error(`'${new TextDecoder().decode(argv[0])}' failed during a key migration: ${reply.value}`);
    });
  } finally {
    server.removeClient(client);
    server.serveReadyKeys();
  }
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) throw new Error(`invalid slot ${slot}`);
}
