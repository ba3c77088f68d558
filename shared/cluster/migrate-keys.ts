/**
 * Moving a slot's keys between masters (live resharding): what Redis's
 * `MIGRATE host port "" 0 timeout REPLACE KEYS ...` does between two cluster
 * nodes, split into the three steps a Durable Object host runs around one
 * RPC (durable/node-do.ts `migrateKeys`):
 *
 *   exportSlotKeys  on the source: up to N keys of the slot, each as DEL plus
 *                   the commands that recreate it (the full-sync serializer,
 *                   so every type, large values and TTLs travel the same way)
 *   importKeys      on the target: runs them (REPLACE semantics), replicated
 *                   to the target's replicas like any write
 *   dropKeys        on the source, once the target has them: DEL, replicated
 *
 * The source serves no other command between export and drop (the host
 * blocks it, as MIGRATE blocks Redis), so no write can slip in between and
 * be lost. A batch that fails before the drop leaves the keys on the source;
 * running it again replaces whatever part reached the target.
 */
import { encodeCommand, RequestParser } from "../resp/index.ts";
import type { Client } from "../engine/client.ts";
import type { Node } from "../engine/node.ts";
import { Blocked } from "../engine/blocking.ts";
import { serializeKey } from "../replication/serialize.ts";
import { blob, num, type Sql } from "../store/sql.ts";
import { concat } from "../util/bytes.ts";
import { SLOT_COUNT } from "./slot.ts";

const encoder = new TextEncoder();

/** One batch of a slot's keys on its way from one master to another. */
export interface KeyBatch {
  /** The keys taken (expired ones included: they are dropped, not sent). */
  readonly keys: Uint8Array[];
  /** Encoded commands that recreate the live ones on the target. */
  readonly commands: Uint8Array[];
}

export interface MigrateResult {
  /** Keys that left the source in this batch. */
  readonly moved: number;
  /** Keys of the slot still on the source. */
  readonly remaining: number;
}

/** Up to `count` keys of `slot`, serialized for importKeys. Only a master exports. */
export function exportSlotKeys(node: Node, slot: number, count: number): KeyBatch {
  checkSlot(slot);
  if (node.replication.isReplica) throw new Error("a replica cannot migrate keys (its master owns them)");
  const server = node.server;
  const keyspace = server.keyspace;
  keyspace.now = node.host.now();
  const keys = keysInSlot(server.sql, slot, Math.max(1, Math.floor(count)));
  const commands: Uint8Array[] = [];
  for (const key of keys) {
    const record = keyspace.find(0, key);
    if (record === null || keyspace.isExpired(record)) continue;
    commands.push(encodeCommand([encoder.encode("DEL"), key]));
    serializeKey(server.sql, keyspace, record, (command) => commands.push(command));
  }
  return { keys, commands };
}

/**
 * Runs an export's commands as the node's own master link would: no ACL or
 * slot checks (the target is importing a slot it does not serve yet), and
 * every write replicated. Throws on the first error reply.
 */
export function importKeys(node: Node, commands: readonly Uint8Array[]): void {
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
export function dropKeys(node: Node, keys: readonly Uint8Array[]): void {
  if (keys.length === 0) return;
  withInternalClient(node, (run) => run([encoder.encode("DEL"), ...keys]));
}

/** How many keys of `slot` the node holds (CLUSTER COUNTKEYSINSLOT). */
export function countKeysInSlot(node: Node, slot: number): number {
  checkSlot(slot);
  return countKeysOfSlot(node.server.sql, slot);
}

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
