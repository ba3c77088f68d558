import { sha256 } from "@noble/hashes/sha2.js";
import type { Command } from "../commands/spec.ts";
import { keyPositions } from "../commands/keys.ts";
import { globMatch } from "../util/glob.ts";
import type { Server } from "./server.ts";
import { closeClientConnection } from "./connection.ts";

/**
 * Redis's ACL users, as Redis 7.0 models them (src/acl.c): a user is on or
 * off, has SHA-256 password hashes (or `nopass`), key patterns (`~p`, `%R~p`,
 * `%W~p`), channel patterns (`&p`) and command rules (`+@cat`, `-cmd`,
 * `+cmd|sub`) checked against the command table's ACL categories and key specs.
 *
 * Two users are built in and follow the deployment's tokens, not ACL SETUSER:
 *
 * - `default`: `on ~* &* +@all`; its password is TIDEKV_TOKEN. With no token
 *   configured it is `nopass` (the open local default). With only a read-only
 *   token configured it is `off` (nobody gets full access by token).
 * - `default_ro` (only when TIDEKV_READONLY_TOKEN is set): the read-only token's
 *   user, `~* &* -@all +@read +@connection +@transaction -@dangerous -scan`,
 *   like Upstash's read-only token (reads only; no KEYS, no SCAN).
 *
 * Users created with ACL SETUSER persist in the node's `meta` table
 * (`acl:user:<name>` -> JSON). Selectors (Redis 7.0's `(...)` rules) are not
 * supported. ACL LIST describes command rules in the order they were given
 * (as Redis 7.2 does) instead of 7.0's recomputed minimal form; simple rule
 * sets such as `-@all +@read` read the same in both.
 */

export const DEFAULT_USER = "default";
export const READONLY_USER = "default_ro";

/** The deployment's tokens (wrangler secrets or vars); null when not configured. */
export interface AuthTokens {
  readonly token: string | null;
  readonly readonlyToken: string | null;
}

/** Rules of the read-only token's user. */
export const READONLY_RULES = ["-@all", "+@read", "+@connection", "+@transaction", "-@dangerous", "-scan", "+acl|whoami"] as const;

/** Redis 7.0's ACL categories, in ACL CAT order. */
export const ACL_CATEGORIES = [
  "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
  "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
] as const;
const CATEGORY_SET = new Set<string>(ACL_CATEGORIES);

const encoder = new TextEncoder();
const META_PREFIX = "acl:user:";

/** Constant-time equality of two byte strings (no early exit on the first difference or on length). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** SHA-256 of a password as lowercase hex (how Redis stores and shows passwords). */
export function passwordHash(password: Uint8Array | string): string {
  const digest = sha256(typeof password === "string" ? encoder.encode(password) : password);
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

interface KeyPattern {
  readonly pattern: string;
  readonly bytes: Uint8Array;
  read: boolean;
  write: boolean;
}

/** What a user is, in a form that serializes to JSON (persistence, cluster-wide push). */
export interface UserRecord {
  enabled: boolean;
  nopass: boolean;
  sanitizePayload: boolean;
  passwords: string[];
  allKeys: boolean;
  keys: { pattern: string; read: boolean; write: boolean }[];
  allChannels: boolean;
  channels: string[];
  allCommands: boolean;
  rules: string[];
}

export class AclUser {
  enabled = false;
  nopass = false;
  sanitizePayload = false;
  passwords: string[] = [];
  allKeys = false;
  keyPatterns: KeyPattern[] = [];
  allChannels = false;
  channels: string[] = [];
  allCommands = false;
  /** Command rules after the +@all/-@all base, e.g. "+@read", "-keys", "+config|get". */
  rules: string[] = [];
  private readonly permissions = new Map<string, boolean>();

  constructor(
    readonly name: string,
    readonly builtIn = false,
  ) {}

  static fromRecord(name: string, r: UserRecord): AclUser {
    const user = new AclUser(name);
    user.enabled = r.enabled;
    user.nopass = r.nopass;
    user.sanitizePayload = r.sanitizePayload;
    user.passwords = [...r.passwords];
    user.allKeys = r.allKeys;
    user.keyPatterns = r.keys.map((k) => ({ ...k, bytes: encoder.encode(k.pattern) }));
    user.allChannels = r.allChannels;
    user.channels = [...r.channels];
    user.allCommands = r.allCommands;
    user.rules = [...r.rules];
    return user;
  }

  toRecord(): UserRecord {
    return {
      enabled: this.enabled,
      nopass: this.nopass,
      sanitizePayload: this.sanitizePayload,
      passwords: [...this.passwords],
      allKeys: this.allKeys,
      keys: this.keyPatterns.map(({ pattern, read, write }) => ({ pattern, read, write })),
      allChannels: this.allChannels,
      channels: [...this.channels],
      allCommands: this.allCommands,
      rules: [...this.rules],
    };
  }

  clone(): AclUser {
    return AclUser.fromRecord(this.name, this.toRecord());
  }

  /** Whether the user may run `command` (a resolved command or subcommand). */
  canRun(command: Command): boolean {
    if (this.allCommands && this.rules.length === 0) return true;
    const cached = this.permissions.get(command.fullName);
    if (cached !== undefined) return cached;
    let allowed = this.allCommands;
    const categories = command.def.acl_categories;
    for (const rule of this.rules) {
      const grant = rule.charCodeAt(0) === 0x2b; // '+'
      const target = rule.slice(1);
      if (target.startsWith("@")) {
        if (categories.some((c) => c.toLowerCase() === target)) allowed = grant;
      } else if (target === command.fullName || (command.parent && target === command.parent.name)) {
        allowed = grant;
      }
    }
    this.permissions.set(command.fullName, allowed);
    return allowed;
  }

  /** Whether the user may touch every key `argv` names, with the access its key specs need. */
  canAccessKeys(command: Command, argv: readonly Uint8Array[]): boolean {
    return this.deniedKey(command, argv) === -1;
  }

  /** The position of the first key of `argv` the user may not touch, or -1. */
  deniedKey(command: Command, argv: readonly Uint8Array[]): number {
    if (this.allKeys) return -1;
    if (command.getKeys) {
      // Keys found by code (SORT ... STORE): the command's own access.
      const need = command.isWrite ? WRITE : READ;
      for (const i of command.getKeys(argv)) if (!this.keyAllowed(argv[i], need)) return i;
      return -1;
    }
    for (const spec of command.def.key_specs) {
      let need = 0;
      for (const flag of spec.flags) {
        if (flag === "access") need |= READ;
        else if (flag === "insert" || flag === "delete" || flag === "update") need |= WRITE;
      }
      // Redis's setGetKeys: SET reads its key only with the GET option.
      if (command.name === "set" && spec.flags.includes("variable_flags") && !hasGetOption(argv)) need &= ~READ;
      const single = { ...command, getKeys: undefined, def: { ...command.def, key_specs: [spec] } } as Command;
      for (const i of keyPositions(single, argv)) if (!this.keyAllowed(argv[i], need)) return i;
    }
    return -1;
  }

  private keyAllowed(key: Uint8Array, need: number): boolean {
    for (const p of this.keyPatterns) {
      const has = (p.read ? READ : 0) | (p.write ? WRITE : 0);
      if ((has & need) !== need) continue;
      if (globMatch(p.bytes, key)) return true;
    }
    return false;
  }

  /** The rules part of an ACL LIST line (Redis's ACLDescribeUser). */
  describe(): string {
    const parts = [this.enabled ? "on" : "off"];
    if (this.nopass) parts.push("nopass");
    if (this.sanitizePayload) parts.push("sanitize-payload");
    for (const hash of this.passwords) parts.push(`#${hash}`);
    const keys = this.describeKeys();
    if (keys) parts.push(keys);
    parts.push(this.describeChannels());
    parts.push(this.describeCommands());
    return parts.join(" ");
  }

  describeKeys(): string {
    if (this.allKeys) return "~*";
    return this.keyPatterns
      .map((p) => (p.read && p.write ? `~${p.pattern}` : p.read ? `%R~${p.pattern}` : `%W~${p.pattern}`))
      .join(" ");
  }

  describeChannels(): string {
    if (this.allChannels) return "&*";
    return ["resetchannels", ...this.channels.map((c) => `&${c}`)].join(" ");
  }

  /** ACL GETUSER's `channels` field: the patterns only. */
  channelPatterns(): string {
    return this.allChannels ? "&*" : this.channels.map((c) => `&${c}`).join(" ");
  }

  describeCommands(): string {
    return [this.allCommands ? "+@all" : "-@all", ...this.rules].join(" ");
  }

  /** ACL GETUSER's flags. */
  flags(): string[] {
    const flags = [this.enabled ? "on" : "off"];
    if (this.nopass) flags.push("nopass");
    if (this.sanitizePayload) flags.push("sanitize-payload");
    return flags;
  }

  invalidate(): void {
    this.permissions.clear();
  }

  /**
   * Applies one ACL SETUSER modifier; returns Redis's reason text when it is
   * refused (the caller words the whole error).
   */
  apply(op: string, commandExists: (name: string) => "ok" | "unknown"): string | null {
    this.invalidate();
    const lower = op.toLowerCase();
    switch (lower) {
      case "on":
        this.enabled = true;
        return null;
      case "off":
        this.enabled = false;
        return null;
      case "skip-sanitize-payload":
        this.sanitizePayload = false;
        return null;
      case "sanitize-payload":
        this.sanitizePayload = true;
        return null;
      case "allkeys":
        return this.apply("~*", commandExists);
      case "resetkeys":
        this.allKeys = false;
        this.keyPatterns = [];
        return null;
      case "allchannels":
        return this.apply("&*", commandExists);
      case "resetchannels":
        this.allChannels = false;
        this.channels = [];
        return null;
      case "allcommands":
        return this.apply("+@all", commandExists);
      case "nocommands":
        return this.apply("-@all", commandExists);
      case "nopass":
        this.nopass = true;
        this.passwords = [];
        return null;
      case "resetpass":
        this.nopass = false;
        this.passwords = [];
        return null;
      case "clearselectors":
        return null;
      case "reset":
        for (const step of ["resetpass", "resetkeys", "resetchannels", "off", "-@all"]) this.apply(step, commandExists);
        this.sanitizePayload = true;
        return null;
    }
    const first = op[0];
    if (first === ">" || first === "<") {
      const hash = passwordHash(op.slice(1));
      return first === ">" ? this.addPassword(hash) : this.removePassword(hash);
    }
    if (first === "#" || first === "!") {
      const hash = op.slice(1);
      if (!/^[0-9a-f]{64}$/.test(hash)) {
        return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
      }
      return first === "#" ? this.addPassword(hash) : this.removePassword(hash);
    }
    if (first === "~" || first === "%") return this.addKeyPattern(op);
    if (first === "&") {
      const pattern = op.slice(1);
      if (this.allChannels) {
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
      }
      if (pattern === "*") {
        this.allChannels = true;
        this.channels = [];
      } else if (!this.channels.includes(pattern)) {
        this.channels.push(pattern);
      }
      return null;
    }
    if (first === "+" || first === "-") return this.addCommandRule(first, lower.slice(1), commandExists);
    if (first === "(") return "Selectors are not supported";
    return "Syntax error";
  }

  private addPassword(hash: string): null {
    if (!this.passwords.includes(hash)) this.passwords.push(hash);
    this.nopass = false;
    return null;
  }

  private removePassword(hash: string): string | null {
    const at = this.passwords.indexOf(hash);
    if (at === -1) return "The password you are trying to remove from the user does not exist";
    this.passwords.splice(at, 1);
    this.nopass = false;
    return null;
  }

  private addKeyPattern(op: string): string | null {
    let read = true;
    let write = true;
    let pattern: string;
    if (op[0] === "%") {
      const tilde = op.indexOf("~");
      if (tilde < 2) return "Syntax error";
      read = false;
      write = false;
      for (const c of op.slice(1, tilde)) {
        if (c === "R") read = true;
        else if (c === "W") write = true;
        else return "Syntax error";
      }
      pattern = op.slice(tilde + 1);
    } else {
      pattern = op.slice(1);
    }
    if (this.allKeys) {
      return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    }
    if (pattern === "*" && read && write) {
      this.allKeys = true;
      this.keyPatterns = [];
      return null;
    }
    const existing = this.keyPatterns.find((p) => p.pattern === pattern);
    if (existing) {
      existing.read ||= read;
      existing.write ||= write;
    } else {
      this.keyPatterns.push({ pattern, bytes: encoder.encode(pattern), read, write });
    }
    return null;
  }

  private addCommandRule(sign: string, target: string, commandExists: (name: string) => "ok" | "unknown"): string | null {
    if (target === "@all") {
      this.allCommands = sign === "+";
      this.rules = [];
      return null;
    }
    if (target.startsWith("@")) {
      if (!CATEGORY_SET.has(target.slice(1))) return "Unknown command or category name in ACL";
    } else if (commandExists(target) !== "ok") {
      return "Unknown command or category name in ACL";
    }
    // A later rule for the same command or category replaces an earlier one.
    this.rules = this.rules.filter((r) => r.slice(1) !== target);
    this.rules.push(sign + target);
    return null;
  }
}

const READ = 1;
const WRITE = 2;

function hasGetOption(argv: readonly Uint8Array[]): boolean {
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i];
    if (a.length === 3 && (a[0] | 0x20) === 0x67 && (a[1] | 0x20) === 0x65 && (a[2] | 0x20) === 0x74) return true;
  }
  return false;
}

/** A change to the users, as pushed to the other nodes of a cluster. */
export type AclChange =
  | { readonly type: "setuser"; readonly name: string; readonly user: UserRecord }
  | { readonly type: "deluser"; readonly name: string };

/**
 * The users of one node: the two built-in users derived from the tokens, and
 * the users stored in SQL (loaded on first use, then kept in memory: a small
 * set that only ACL SETUSER/DELUSER changes).
 */
export class Acl {
  private tokens: AuthTokens = { token: null, readonlyToken: null };
  private stored: Map<string, AclUser> | null = null;
  private defaultUser: AclUser;
  private readonlyUser: AclUser | null = null;
  /**
   * Called after every local ACL SETUSER/DELUSER, so the host can push the
   * change to every node of the cluster (the cluster coordinator).
   */
  onChange: ((change: AclChange) => void) | null = null;

  constructor(private readonly server: Server) {
    this.defaultUser = this.builtInDefault();
  }

  configure(tokens: AuthTokens): void {
    this.tokens = {
      token: tokens.token ? tokens.token : null,
      readonlyToken: tokens.readonlyToken ? tokens.readonlyToken : null,
    };
    this.defaultUser = this.builtInDefault();
    this.readonlyUser = this.builtInReadonly();
  }

  get configuredTokens(): AuthTokens {
    return this.tokens;
  }

  /** Whether connections must authenticate (Redis's authRequired: the default user is not `on nopass`). */
  get authRequired(): boolean {
    return !(this.defaultUser.enabled && this.defaultUser.nopass);
  }

  isBuiltIn(name: string): boolean {
    return name === DEFAULT_USER || name === READONLY_USER;
  }

  get(name: string): AclUser | undefined {
    if (name === DEFAULT_USER) return this.defaultUser;
    if (name === READONLY_USER) return this.readonlyUser ?? undefined;
    return this.users().get(name);
  }

  /** Every user, sorted by name (ACL USERS, ACL LIST). */
  all(): AclUser[] {
    const out = [this.defaultUser, ...(this.readonlyUser ? [this.readonlyUser] : []), ...this.users().values()];
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Who `user` with `password` logs in as, or null (WRONGPASS). The default
   * user's password may also be the read-only token: that logs in as
   * `default_ro`. Tokens are compared in constant time.
   */
  authenticate(user: string, password: Uint8Array): string | null {
    if (user === DEFAULT_USER || user === READONLY_USER) {
      const { token, readonlyToken } = this.tokens;
      if (token === null && readonlyToken === null) return user === DEFAULT_USER ? DEFAULT_USER : null;
      const full = token !== null && constantTimeEqual(encoder.encode(token), password);
      const ro = readonlyToken !== null && constantTimeEqual(encoder.encode(readonlyToken), password);
      if (user === DEFAULT_USER && full) return DEFAULT_USER;
      if (ro) return READONLY_USER;
      return null;
    }
    const found = this.users().get(user);
    if (!found || !found.enabled) return null;
    if (found.nopass) return user;
    const hash = encoder.encode(passwordHash(password));
    let ok = false;
    for (const stored of found.passwords) ok = constantTimeEqual(encoder.encode(stored), hash) || ok;
    return ok ? user : null;
  }

  /**
   * ACL SETUSER: applies every modifier to a copy, then stores it; the first
   * refused modifier leaves the user as it was. Returns the error line or null.
   */
  setUser(name: string, ops: readonly string[], commandExists: (name: string) => "ok" | "unknown"): string | null {
    if (this.isBuiltIn(name)) {
      return `ERR The '${name}' user is managed by the deployment's tokens (TIDEKV_TOKEN, TIDEKV_READONLY_TOKEN) and cannot be changed`;
    }
    const users = this.users();
    const current = users.get(name);
    const user = current ? current.clone() : new AclUser(name);
    for (const op of ops) {
      const reason = user.apply(op, commandExists);
      if (reason !== null) return `ERR Error in ACL SETUSER modifier '${op}': ${reason}`;
    }
    this.store(name, user);
    this.onChange?.({ type: "setuser", name, user: user.toRecord() });
    return null;
  }

  /** ACL DELUSER: how many of `names` existed and were removed. */
  delUsers(names: readonly string[]): number {
    let removed = 0;
    for (const name of names) {
      if (!this.users().has(name)) continue;
      this.remove(name);
      removed++;
      this.onChange?.({ type: "deluser", name });
    }
    return removed;
  }

  /** Applies a change made on another node (pushed by the cluster coordinator); no onChange echo. */
  applyRemote(change: AclChange): void {
    if (this.isBuiltIn(change.name)) return;
    if (change.type === "setuser") this.store(change.name, AclUser.fromRecord(change.name, change.user));
    else if (this.users().has(change.name)) this.remove(change.name);
  }

  /** Replaces every stored user with `users` (a cluster-wide snapshot pushed by the coordinator); no onChange echo. */
  replaceAll(users: readonly { name: string; user: UserRecord }[]): void {
    const wanted = new Set(users.map((u) => u.name));
    for (const name of [...this.users().keys()]) {
      if (wanted.has(name)) continue;
      this.remove(name);
      // As ACL DELUSER does: the connections of a deleted user are closed.
      for (const client of [...this.server.clients.values()]) if (client.user === name) closeClientConnection(this.server, client);
    }
    for (const { name, user } of users) if (!this.isBuiltIn(name)) this.store(name, AclUser.fromRecord(name, user));
  }

  /** Every stored user as records (a full push to a node that joins a cluster). */
  exportUsers(): { name: string; user: UserRecord }[] {
    return [...this.users().values()].map((u) => ({ name: u.name, user: u.toRecord() }));
  }

  private store(name: string, user: AclUser): void {
    this.server.sql.run(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, META_PREFIX + name, JSON.stringify(user.toRecord()));
    this.users().set(name, user);
  }

  private remove(name: string): void {
    this.server.sql.run(`DELETE FROM meta WHERE name = ?`, META_PREFIX + name);
    this.users().delete(name);
  }

  private users(): Map<string, AclUser> {
    if (this.stored) return this.stored;
    const users = new Map<string, AclUser>();
    const rows = this.server.sql.all<{ name: string; value: string }>(
      `SELECT name, value FROM meta WHERE name >= ? AND name < ?`,
      META_PREFIX,
      META_PREFIX.slice(0, -1) + ";", // ':' + 1
    );
    for (const row of rows) {
      const name = row.name.slice(META_PREFIX.length);
      try {
        users.set(name, AclUser.fromRecord(name, JSON.parse(row.value) as UserRecord));
      } catch {
        this.server.host.log?.("warn", `ignoring unreadable ACL user '${name}'`);
      }
    }
    this.stored = users;
    return users;
  }

  private builtInDefault(): AclUser {
    const user = new AclUser(DEFAULT_USER, true);
    const { token, readonlyToken } = this.tokens;
    user.enabled = token !== null || readonlyToken === null;
    user.nopass = token === null && readonlyToken === null;
    if (token !== null) user.passwords = [passwordHash(token)];
    user.allKeys = true;
    user.allChannels = true;
    user.allCommands = true;
    return user;
  }

  private builtInReadonly(): AclUser | null {
    const { readonlyToken } = this.tokens;
    if (readonlyToken === null) return null;
    const user = new AclUser(READONLY_USER, true);
    user.enabled = true;
    user.passwords = [passwordHash(readonlyToken)];
    user.allKeys = true;
    user.allChannels = true;
    for (const rule of READONLY_RULES) user.apply(rule, () => "ok");
    return user;
  }
}

const acls = new WeakMap<Server, Acl>();

/** The ACL state of a node's server (created on first use). */
export function aclOf(server: Server): Acl {
  let acl = acls.get(server);
  if (!acl) acls.set(server, (acl = new Acl(server)));
  return acl;
}
