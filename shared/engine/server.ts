import { array, error, NULL_ARRAY, QUEUED, type Reply } from "../resp/reply.ts";
import type { Command } from "../commands/spec.ts";
import type { CommandTable } from "../commands/table.ts";
import type { Sql } from "../store/sql.ts";
import { CommandCall } from "./call.ts";
import { Client, dbKeyId } from "./client.ts";
import { Config } from "./config.ts";
import { CommandError, Errors } from "./errors.ts";
import type { NodeHost } from "./host.ts";
import { Keyspace } from "./keyspace.ts";
import { Stats } from "./stats.ts";
import { Blocked, type BlockedClient } from "./blocking.ts";

/** A replication effect: one deterministic command, in the db it applies to. */
export interface Effect {
  readonly db: number;
  readonly argv: Uint8Array[];
}

/** Receives the effects of each top-level call inside its SQL transaction (the replication backlog). */
export interface EffectSink {
  feed(effects: readonly Effect[]): void;
}

const encoder = new TextEncoder();
const MULTI_ARGV = [encoder.encode("MULTI")];
const EXEC_ARGV = [encoder.encode("EXEC")];

/**
 * Checks a command must pass before it runs or is queued (auth, READONLY
 * replica, MASTERDOWN, LOADING, NOREPLICAS, cluster redirection): the first
 * error text returned rejects it.
 */
export type Guard = ((client: Client, command: Command, argv: readonly Uint8Array[]) => string | null) & {
  /**
   * Cluster redirection: a refused EXEC gets the redirection itself (MOVED,
   * CROSSSLOT, ...), not EXECABORT, since Redis's processCommand redirects
   * it outside rejectCommand. The transaction is discarded either way.
   */
  readonly redirects?: boolean;
};

/** Commands a client in MULTI runs at once instead of queueing. */
const RUN_IN_MULTI = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

/**
 * The node's engine: Redis's `server` plus `call()`. Commands run
 * synchronously against SQL, one at a time, each in a transaction together
 * with its replication effects (DESIGN.md invariants 1, 3, 4).
 */
export class Server {
  readonly keyspace: Keyspace;
  readonly config: Config;
  readonly stats = new Stats();
  readonly clients = new Map<number, Client>();
  /** Watched key -> clients watching it. */
  private readonly watchers = new Map<string, Set<Client>>();
  /** Effects of the top-level call being executed. */
  private effects: Effect[] = [];
  effectSink: EffectSink | null = null;
  private nextClientId = 1;
  readonly runId: string;
  readonly startedAt: number;
  /** Replication (set by the Node); commands reach it through the server. */
  replication: import("../replication/index.ts").Replication | null = null;
  /** Set while serving as a replica: keys expire only by the master's DEL. */
  isReplica = false;
  /** True while EXEC runs its queue: blocking commands answer at once then. */
  inTransaction = false;
  /** Blocked clients by watched key id, in the order they blocked. */
  private readonly blockedByKey = new Map<string, Client[]>();
  /** Keys modified since blocked clients were last served. */
  private readonly readyKeys = new Set<string>();
  private servingReadyKeys = false;
  /** While serveReadyKeys re-runs a blocked client's command: the ready key it serves (Redis 7.0 serves from that key). */
  servingKeyId: string | null = null;
  readonly guards: Guard[] = [];
  /** Runs before a stored key changes or goes (full-sync snapshots keep its pre-image). */
  beforeKeyChange: ((record: import("./keyspace.ts").KeyRecord) => void) | null = null;
  /** Runs before every write command (full-sync snapshots keep pre-images of its keys). */
  beforeWrite: ((client: Client, command: Command, argv: readonly Uint8Array[]) => void) | null = null;
  /** Called when the earliest blocked-client timeout changes, so the host can wake up then. */
  onBlockTimeout: ((at: number) => void) | null = null;

  constructor(
    readonly sql: Sql,
    readonly host: NodeHost,
    readonly commands: CommandTable,
  ) {
    const server = this;
    this.keyspace = new Keyspace(sql, {
      keyModified: (db, key) => server.keyModified(db, key),
      keyExpired: (db, key) => server.onKeyExpired(db, key),
      beforeChange: (record) => server.beforeKeyChange?.(record),
      get expiresKeys() {
        return !server.isReplica;
      },
    });
    this.config = new Config(sql);
    this.runId = randomHex(40);
    this.startedAt = host.now();
  }

  // ---- clients ----------------------------------------------------------------

  createClient(addr: string, laddr: string): Client {
    const client = new Client(this.nextClientId++, addr, laddr, this.host.now());
    this.clients.set(client.id, client);
    this.stats.totalConnections++;
    return client;
  }

  /** Restores a client whose connection outlived this engine instance (hibernation). */
  adoptClient(id: number, addr: string, laddr: string): Client {
    const client = new Client(id, addr, laddr, this.host.now());
    this.clients.set(id, client);
    if (id >= this.nextClientId) this.nextClientId = id + 1;
    return client;
  }

  /** Clients of an earlier engine instance keep their ids; new ids start above them. */
  reserveClientIds(upTo: number): void {
    if (upTo >= this.nextClientId) this.nextClientId = upTo + 1;
  }

  removeClient(client: Client): void {
    this.replication?.clientClosed(client);
    this.unblock(client, null);
    this.unwatchAll(client);
    client.multi = null;
    this.clients.delete(client.id);
  }

  // ---- dispatch -----------------------------------------------------------------

  /**
   * Runs one command from a client, exactly as Redis's processCommand + call().
   * A blocking command that must wait returns Blocked: the caller registers it
   * with block() and serves the client's later commands only once it resumes.
   */
  execute(client: Client, argv: Uint8Array[]): Reply | Blocked {
    const now = this.host.now();
    client.lastInteraction = now;
    const resolved = this.commands.resolve(argv);
    if ("type" in resolved) {
      if (client.multi) client.multi.aborted = true;
      this.stats.recordRejection(null, resolved.value);
      return resolved;
    }
    const command = resolved;
    const topName = command.parent ? command.parent.name : command.name;
    if (client.role !== "master") {
      for (const guard of this.guards) {
        const refusal = guard(client, command, argv);
        if (refusal !== null) {
          if (client.multi) client.multi.aborted = true;
          this.stats.recordRejection(command.fullName, refusal);
          if (topName === "exec") {
            // Redis's rejectCommand on EXEC: execCommandAbort discards the transaction.
            client.multi = null;
            this.unwatchAll(client);
            return error(guard.redirects ? refusal : `EXECABORT Transaction discarded because of: ${refusal}`);
          }
          return error(refusal);
        }
      }
    }

    if (client.multi && !RUN_IN_MULTI.has(topName)) {
      if (command.flags.has("no_multi")) {
        client.multi.aborted = true;
        return error("ERR Command not allowed inside a transaction");
      }
      client.multi.queue.push(argv);
      return QUEUED;
    }
    if (topName === "exec") return this.exec(client, command, argv);

    this.keyspace.now = now;
    try {
      return this.sql.transaction(() => {
        const reply = this.invoke(client, command, argv);
        if (this.flushEffects()) client.lastWriteOffset = this.replication?.offset ?? 0;
        return reply;
      });
    } catch (e) {
      return this.failed(command, e);
    }
  }

  private invoke(client: Client, command: Command, argv: Uint8Array[]): Reply | Blocked {
    const call = new CommandCall(this, client, command, argv);
    const db = client.db;
    if (command.isWrite && this.beforeWrite) this.beforeWrite(client, command, argv);
    const started = performance.now();
    const reply = command.handler!(call);
    if (reply instanceof Blocked) return reply;
    const failed = reply.type === "error";
    this.stats.recordCall(command.fullName, performance.now() - started, failed);
    if (failed) this.stats.recordError(reply.value);
    if (call.dirty > 0) {
      this.stats.dirty += call.dirty;
      if (!call.suppressed) this.propagate(db, call.rewritten ?? argv);
    }
    client.lastCommand = command.fullName;
    return reply;
  }

  private failed(command: Command, e: unknown): Reply {
    this.effects = [];
    // Counters derived from SQL may have moved with writes that were just rolled back.
    this.keyspace.invalidateDerived();
    if (e instanceof CommandError) {
      this.stats.recordCall(command.fullName, 0, true);
      this.stats.recordError(e.message);
      return error(e.message);
    }
    this.host.log?.("error", `command '${command.fullName}' crashed: ${(e as Error)?.stack ?? e}`);
    return error(`ERR internal error in '${command.fullName}': ${(e as Error)?.message ?? e}`);
  }

  private exec(client: Client, command: Command, argv: Uint8Array[]): Reply {
    const multi = client.multi;
    if (!multi) return error(Errors.execWithoutMulti);
    client.multi = null;
    if (multi.aborted) {
      this.unwatchAll(client);
      return error(Errors.execAbort);
    }
    this.keyspace.now = this.host.now();
    if (client.dirtyCas || this.watchedKeyExpired(client)) {
      this.unwatchAll(client);
      return NULL_ARRAY;
    }
    this.unwatchAll(client);
    this.inTransaction = true;
    try {
      return this.sql.transaction(() => {
        const replies: Reply[] = [];
        for (const queued of multi.queue) {
          const resolved = this.commands.resolve(queued) as Command;
          try {
            // Inside EXEC, CommandCall.block answers at once, so this is never Blocked.
            replies.push(this.sql.transaction(() => this.invoke(client, resolved, queued)) as Reply);
          } catch (e) {
            replies.push(this.failedInTransaction(resolved, e));
          }
        }
        client.lastCommand = command.fullName;
        if (this.flushEffects()) client.lastWriteOffset = this.replication?.offset ?? 0;
        return array(replies);
      });
    } catch (e) {
      return this.failed(command, e);
    } finally {
      this.inTransaction = false;
    }
  }

  /** A command inside EXEC failed: its own writes are rolled back, the transaction goes on. */
  private failedInTransaction(command: Command, e: unknown): Reply {
    if (!(e instanceof CommandError)) throw e;
    this.keyspace.invalidateDerived();
    this.stats.recordCall(command.fullName, 0, true);
    this.stats.recordError(e.message);
    return error(e.message);
  }

  // ---- effects --------------------------------------------------------------------

  /** Records an effect of the current call (replicated in order, inside its transaction). */
  propagate(db: number, argv: Uint8Array[]): void {
    this.effects.push({ db, argv });
  }

  /** Hands the current call's effects to the sink; returns whether there were any. */
  private flushEffects(): boolean {
    const effects = this.effects;
    if (effects.length === 0) return false;
    this.effects = [];
    if (!this.effectSink) return true;
    // Redis wraps the effects of one call in MULTI/EXEC when there are several,
    // so a replica applies them atomically.
    if (effects.length > 1) {
      const db = effects[0].db;
      this.effectSink.feed([{ db, argv: MULTI_ARGV }, ...effects, { db: effects[effects.length - 1].db, argv: EXEC_ARGV }]);
    } else {
      this.effectSink.feed(effects);
    }
    return true;
  }

  private onKeyExpired(db: number, key: Uint8Array): void {
    this.stats.expiredKeys++;
    // Redis propagates an expired key's deletion as UNLINK when lazyfree-lazy-expire is on (propagateDeletion).
    this.propagate(db, [encoder.encode(this.config.bool("lazyfree-lazy-expire") ? "UNLINK" : "DEL"), key]);
    this.touchWatchedKey(db, key);
  }

  /**
   * Active expiry: removes up to `budget` expired keys, each as its own
   * replicated DEL, and returns when the next key is due (or null).
   */
  expireCycle(budget: number): number | null {
    this.keyspace.now = this.host.now();
    if (this.isReplica) return null; // a replica's keys expire by its master's DELs
    {
      this.sql.transaction(() => {
        for (const { db, key, record } of this.keyspace.expiredBatch(budget)) {
          this.keyspace.remove(record);
          this.onKeyExpired(db, key);
        }
        this.flushEffectsOneByOne();
      });
    }
    return this.keyspace.nextExpiry();
  }

  /** Expiry DELs are independent: each travels alone, never wrapped in MULTI. */
  private flushEffectsOneByOne(): void {
    const effects = this.effects;
    this.effects = [];
    if (this.effectSink) for (const effect of effects) this.effectSink.feed([effect]);
  }

  // ---- blocking commands ------------------------------------------------------------

  /** Parks a client whose command returned Blocked until a key changes or it times out. */
  block(client: Client, argv: Uint8Array[], blocked: Blocked, resume: (reply: Reply) => void): void {
    const keyIds = [...blocked.keys.map((key) => dbKeyId(client.db, key)), ...blocked.events];
    client.blocked = { argv, db: client.db, keyIds, timeoutAt: blocked.timeoutAt, timeoutReply: blocked.timeoutReply, resume };
    for (const id of keyIds) {
      let queue = this.blockedByKey.get(id);
      if (!queue) this.blockedByKey.set(id, (queue = []));
      if (!queue.includes(client)) queue.push(client);
    }
    if (blocked.timeoutAt !== null) this.onBlockTimeout?.(blocked.timeoutAt);
  }

  /** Ends a client's wait with `reply` (timeout, CLIENT UNBLOCK, disconnect with null). */
  unblock(client: Client, reply: Reply | null): void {
    const blocked = client.blocked;
    if (!blocked) return;
    client.blocked = null;
    for (const id of blocked.keyIds) {
      const queue = this.blockedByKey.get(id);
      if (!queue) continue;
      const at = queue.indexOf(client);
      if (at !== -1) queue.splice(at, 1);
      if (queue.length === 0) this.blockedByKey.delete(id);
    }
    if (reply) blocked.resume(reply);
  }

  get blockedClientCount(): number {
    let n = 0;
    for (const client of this.clients.values()) if (client.blocked) n++;
    return n;
  }

  /**
   * Retries the commands of clients blocked on keys that changed, in the order
   * the clients blocked (Redis's handleClientsBlockedOnKeys). A served command
   * runs in its own transaction with its own effects (the pop that happened).
   */
  serveReadyKeys(): void {
    if (this.servingReadyKeys || this.readyKeys.size === 0) return;
    this.servingReadyKeys = true;
    try {
      while (this.readyKeys.size > 0) {
        const ids = [...this.readyKeys];
        this.readyKeys.clear();
        for (const id of ids) {
          for (const client of [...(this.blockedByKey.get(id) ?? [])]) {
            const blocked = client.blocked;
            if (!blocked) continue;
            const savedDb = client.db;
            client.db = blocked.db;
            this.servingKeyId = id;
            let reply: Reply | Blocked;
            try {
              reply = this.execute(client, blocked.argv);
            } finally {
              this.servingKeyId = null;
              client.db = savedDb;
            }
            if (reply instanceof Blocked) continue; // still nothing for it: keeps its place
            this.unblock(client, reply);
          }
        }
      }
    } finally {
      this.servingReadyKeys = false;
    }
  }

  /** Answers blocked clients whose timeout passed; returns the next timeout, or null. */
  expireBlockedClients(): number | null {
    const now = this.host.now();
    let next: number | null = null;
    for (const client of this.clients.values()) {
      const blocked = client.blocked;
      if (!blocked || blocked.timeoutAt === null) continue;
      if (blocked.timeoutAt <= now) {
        const reply = blocked.timeoutReply;
        this.unblock(client, typeof reply === "function" ? reply() : reply);
      }
      else if (next === null || blocked.timeoutAt < next) next = blocked.timeoutAt;
    }
    return next;
  }

  /** Wakes clients blocked on a non-key event (ACK_EVENT). */
  signalEvent(id: string): void {
    if (this.blockedByKey.has(id)) this.readyKeys.add(id);
  }

  /** Every change to a key: WATCH invalidation, and a retry for clients blocked on it. */
  keyModified(db: number, key: Uint8Array): void {
    this.touchWatchedKey(db, key);
    if (this.blockedByKey.size > 0) {
      const id = dbKeyId(db, key);
      if (this.blockedByKey.has(id)) this.readyKeys.add(id);
    }
  }

  // ---- WATCH ----------------------------------------------------------------------

  watch(client: Client, db: number, key: Uint8Array): void {
    const id = dbKeyId(db, key);
    if (client.watched.has(id)) return;
    const record = this.keyspace.find(db, key);
    const expiredAtWatch = record !== null && this.keyspace.isExpired(record);
    client.watched.set(id, { db, key, expiredAtWatch });
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(client);
  }

  unwatchAll(client: Client): void {
    for (const id of client.watched.keys()) {
      const set = this.watchers.get(id);
      if (set) {
        set.delete(client);
        if (set.size === 0) this.watchers.delete(id);
      }
    }
    client.watched.clear();
    client.dirtyCas = false;
  }

  touchWatchedKey(db: number, key: Uint8Array): void {
    if (this.watchers.size === 0) return;
    const id = dbKeyId(db, key);
    const set = this.watchers.get(id);
    if (!set) return;
    for (const client of set) {
      const watched = client.watched.get(id);
      if (watched?.expiredAtWatch && !this.keyspace.find(db, key)) {
        // Redis's touchWatchedKey: a key already expired at WATCH that is now
        // deleted (by expiry) is logically unchanged; later changes do count.
        client.watched.set(id, { ...watched, expiredAtWatch: false });
        continue;
      }
      client.dirtyCas = true;
    }
  }

  /**
   * FLUSHDB/FLUSHALL/SWAPDB: invalidates every watched key of `db` that exists
   * there, or (SWAPDB) exists in the db that replaces it.
   */
  touchWatchedKeysInDb(db: number, replacedWith: number | null = null): void {
    for (const set of this.watchers.values()) {
      for (const client of set) {
        for (const watched of client.watched.values()) {
          if (watched.db !== db) continue;
          if (this.keyspace.find(db, watched.key) || (replacedWith !== null && this.keyspace.find(replacedWith, watched.key))) {
            client.dirtyCas = true;
          }
        }
      }
    }
  }

  /** The whole dataset was replaced (a replica loaded a snapshot): every WATCH fails. */
  touchAllWatchedKeys(): void {
    for (const client of this.clients.values()) if (client.watched.size > 0) client.dirtyCas = true;
  }

  /** A key that was live at WATCH and has expired since makes EXEC fail. */
  private watchedKeyExpired(client: Client): boolean {
    for (const watched of client.watched.values()) {
      if (watched.expiredAtWatch) continue;
      const record = this.keyspace.find(watched.db, watched.key);
      if (record && this.keyspace.isExpired(record)) return true;
    }
    return false;
  }

  get watchingClients(): number {
    let n = 0;
    for (const client of this.clients.values()) if (client.watched.size > 0) n++;
    return n;
  }

  get watchedKeys(): number {
    return this.watchers.size;
  }
}

export function randomHex(length: number): string {
  const bytes = new Uint8Array(Math.ceil(length / 2));
  crypto.getRandomValues(bytes);
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out.slice(0, length);
}
