import { array, bulk, error, integer, map, NULL, set, simple, type Reply } from "../resp/reply.ts";
import type { Command, CommandDef, KeySpec } from "../commands/spec.ts";
import type { CommandTable } from "../commands/table.ts";

/**
 * COMMAND INFO / COMMAND DOCS / COMMAND GETKEYS, built from the command
 * metadata in shared/commands/defs/*.json (generated from Redis 7.0, whose key
 * order the JSON keeps). The reply types are Redis's (src/server.c,
 * addReplyCommandInfo / addReplyCommandDocs), checked against redis-server
 * 7.0.15's raw bytes:
 *
 * - INFO entry: [name, arity, flags (set of simple), first, last, step,
 *   ACL categories (set of simple), tips (set of bulk), key specs (set of
 *   maps), subcommands (array of entries, or an empty set)].
 * - DOCS: map name -> map(summary, since, group, complexity, doc_flags (set of
 *   simple), deprecated_since, replaced_by, history (set of [since, text]),
 *   arguments (array of maps; an argument's flags are a set of simple
 *   strings), subcommands (map)).
 *
 * Only commands (and subcommands) tidekv implements are reported.
 */

const decoder = new TextDecoder();

/** A command's implemented subcommands, in the order of its definition. */
export function subcommandsOf(command: Command): Command[] {
  if (!command.subcommands || command.subcommands.size === 0) return [];
  const out: Command[] = [];
  const seen = new Set<string>();
  for (const name of Object.keys(command.def.subcommands ?? {})) {
    const sub = command.subcommands.get(name);
    if (sub) {
      out.push(sub);
      seen.add(name);
    }
  }
  for (const [name, sub] of command.subcommands) if (!seen.has(name)) out.push(sub);
  return out;
}

/**
 * Looks a command up by its full name, "get" or "config|get" (Redis's
 * lookupCommandBySds): case-insensitive; a subcommand of a command without
 * subcommands, or a name with more than one '|', is unknown.
 */
export function lookupCommandByName(table: CommandTable, fullName: string): Command | undefined {
  const parts = fullName.toLowerCase().split("|");
  if (parts.length > 2) return undefined;
  const base = table.get(parts[0]);
  if (!base || parts.length === 1) return base;
  return base.subcommands?.get(parts[1]);
}

/** Redis's lookupCommand(argv): the subcommand named by argv[1] when the command has subcommands. */
export function lookupCommandByArgv(table: CommandTable, argv: readonly Uint8Array[]): Command | undefined {
  const base = table.get(decoder.decode(argv[0]).toLowerCase());
  if (!base || argv.length === 1 || !base.subcommands) return base;
  return base.subcommands.get(decoder.decode(argv[1]).toLowerCase());
}

// ---- COMMAND INFO -----------------------------------------------------------------

const simpleSet = (values: readonly string[]): Reply => set(values.map(simple));

/** A JSON value of the metadata as a reply: strings as bulk, numbers as integers, objects as maps, `flags` as sets of simple strings. */
function jsonReply(value: unknown, key = ""): Reply {
  if (typeof value === "string") return bulk(value);
  if (typeof value === "number") return integer(value);
  if (Array.isArray(value)) return key === "flags" ? simpleSet(value as string[]) : array(value.map((v) => jsonReply(v)));
  if (value && typeof value === "object") {
    return map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [bulk(k), jsonReply(v, k)] as const));
  }
  return NULL;
}

function keySpecReply(spec: KeySpec): Reply {
  return jsonReply(spec);
}

/** One COMMAND INFO entry. */
export function commandInfoReply(command: Command): Reply {
  const def: CommandDef = command.def;
  const subs = subcommandsOf(command);
  return array([
    bulk(command.fullName),
    integer(def.arity),
    simpleSet(def.flags),
    integer(def.first_key),
    integer(def.last_key),
    integer(def.step),
    simpleSet(def.acl_categories),
    set(def.tips.map((tip) => bulk(tip))),
    set(def.key_specs.map(keySpecReply)),
    subs.length > 0 ? array(subs.map(commandInfoReply)) : set([]),
  ]);
}

// ---- COMMAND DOCS -----------------------------------------------------------------

function argumentReply(arg: Record<string, unknown>): Reply {
  return map(
    Object.entries(arg).map(([k, v]) => {
      if (k === "flags") return [bulk(k), simpleSet(v as string[])] as const;
      if (k === "arguments") return [bulk(k), array((v as Record<string, unknown>[]).map(argumentReply))] as const;
      return [bulk(k), jsonReply(v)] as const;
    }),
  );
}

/** The docs map of one command (the value in COMMAND DOCS' map). */
export function commandDocsReply(command: Command): Reply {
  const entries: (readonly [Reply, Reply])[] = [];
  for (const [k, v] of Object.entries(command.def.docs)) {
    if (k === "subcommands") continue; // rebuilt below from what tidekv implements
    if (k === "doc_flags") entries.push([bulk(k), simpleSet(v as string[])]);
    else if (k === "history") entries.push([bulk(k), set((v as [string, string][]).map(([since, text]) => array([bulk(since), bulk(text)])))]);
    else if (k === "arguments") entries.push([bulk(k), array((v as Record<string, unknown>[]).map(argumentReply))]);
    else entries.push([bulk(k), jsonReply(v)]);
  }
  if (command.subcommands) {
    entries.push([bulk("subcommands"), map(subcommandsOf(command).map((sub) => [bulk(sub.fullName), commandDocsReply(sub)] as const))]);
  }
  return map(entries);
}

// ---- COMMAND GETKEYS --------------------------------------------------------------

export interface KeyReference {
  readonly pos: number;
  readonly flags: readonly string[];
}

/** Whether the command can have keys (Redis's doesCommandHaveKeys). */
export function commandHasKeys(command: Command): boolean {
  return !!command.getKeys || VARIABLE_FLAG_KEYS[command.fullName] !== undefined ||
    command.def.key_specs.some((spec) => !spec.flags.includes("not_key"));
}

/**
 * The key arguments of `argv` with their access flags, as Redis's
 * getKeysFromCommandWithSpecs finds them: from the key specs when they are
 * reliable, else from the command's own key finder. Keys come in key-spec
 * order, one entry per (spec, position), not deduplicated.
 */
export function getKeysWithFlags(command: Command, argv: readonly Uint8Array[]): KeyReference[] {
  const specs = command.def.key_specs;
  const hasKeySpec = specs.some((spec) => !spec.flags.includes("not_key"));
  const hasVariableFlags = specs.some((spec) => spec.flags.includes("variable_flags"));
  if (hasKeySpec && !hasVariableFlags) {
    const keys = keysFromSpecs(specs, argv);
    if (keys) return keys;
  }
  const special = VARIABLE_FLAG_KEYS[command.fullName];
  if (special) return special(argv);
  if (command.getKeys) {
    return command.getKeys(argv).map((pos) => ({ pos, flags: flagsAt(specs, pos) }));
  }
  return [];
}

/** Redis's getKeysUsingKeySpecs; null when a spec cannot be followed (the caller falls back). */
function keysFromSpecs(specs: readonly KeySpec[], argv: readonly Uint8Array[]): KeyReference[] | null {
  const argc = argv.length;
  const keys: KeyReference[] = [];
  for (const spec of specs) {
    if (spec.flags.includes("not_key")) continue;
    let first = 0;
    const begin = spec.begin_search;
    if (begin.type === "index") {
      first = begin.spec.index;
    } else if (begin.type === "keyword") {
      const { keyword, startfrom } = begin.spec;
      const start = startfrom > 0 ? startfrom : argc + startfrom;
      const end = startfrom > 0 ? argc - 1 : 1;
      const wanted = keyword.toLowerCase();
      for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (decoder.decode(argv[i]).toLowerCase() === wanted) {
          first = i + 1;
          break;
        }
      }
      if (!first) continue; // keyword not found: this spec has no keys
    } else {
      return null;
    }

    let last: number;
    let step: number;
    const find = spec.find_keys;
    if (find.type === "range") {
      step = find.spec.keystep;
      if (find.spec.lastkey >= 0) last = first + find.spec.lastkey;
      else if (!find.spec.limit) last = argc + find.spec.lastkey;
      else last = first + Math.trunc((argc - first) / find.spec.limit) + find.spec.lastkey;
    } else if (find.type === "keynum") {
      step = find.spec.keystep;
      if (find.spec.keynumidx >= argc || first + find.spec.keynumidx >= argc) return null;
      const text = decoder.decode(argv[first + find.spec.keynumidx]);
      if (!/^(0|-?[1-9][0-9]*)$/.test(text)) return null;
      const numkeys = Number(text);
      if (numkeys < 0 || !Number.isSafeInteger(numkeys)) return null;
      first += find.spec.firstkey;
      last = first + numkeys - 1;
    } else {
      return null;
    }

    if (last >= argc || last < first || first >= argc) return null;
    for (let i = first; i <= last; i += step) keys.push({ pos: i, flags: spec.flags });
    if (spec.flags.includes("incomplete")) return null;
  }
  return keys;
}

/** The flags of the spec that names position `pos` (for keys found by a command's own key finder). */
function flagsAt(specs: readonly KeySpec[], pos: number): readonly string[] {
  for (const spec of specs) {
    if (spec.begin_search.type === "index" && spec.begin_search.spec.index === pos) return spec.flags;
  }
  return specs.length > 0 ? specs[specs.length - 1].flags : [];
}

/** Commands whose key flags depend on their arguments (VARIABLE_FLAGS): Redis's setGetKeys and bitfieldGetKeys. */
const VARIABLE_FLAG_KEYS: Record<string, (argv: readonly Uint8Array[]) => KeyReference[]> = {
  set: (argv) => {
    for (let i = 3; i < argv.length; i++) {
      if (decoder.decode(argv[i]).toLowerCase() === "get") return [{ pos: 1, flags: ["RW", "access", "update"] }];
    }
    return [{ pos: 1, flags: ["OW", "update"] }];
  },
  bitfield: (argv) => {
    let readonly = true;
    for (let i = 2; i < argv.length; i++) {
      const remaining = argv.length - i - 1;
      const arg = decoder.decode(argv[i]).toLowerCase();
      if (arg === "get" && remaining >= 2) {
        i += 2;
      } else if ((arg === "set" || arg === "incrby") && remaining >= 3) {
        readonly = false;
        break;
      } else if (arg === "overflow" && remaining >= 1) {
        i += 1;
      } else {
        readonly = false;
        break;
      }
    }
    return [{ pos: 1, flags: readonly ? ["RO", "access"] : ["RW", "access", "update"] }];
  },
};

/** Redis's addReplyHelp: the usage line, the given lines, then HELP; all simple strings. */
export function helpReply(command: string, lines: readonly string[]): Reply {
  return array(
    [`${command.toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`, ...lines, "HELP", "    Prints this help."].map(simple),
  );
}

/** Redis's addReplySubcommandSyntaxError (argv[1] as typed, the command upper-cased). */
export function subcommandSyntaxError(argv: readonly Uint8Array[]): Reply {
  const sub = decoder.decode(argv[1]).slice(0, 128);
  return error(`ERR unknown subcommand or wrong number of arguments for '${sub}'. Try ${decoder.decode(argv[0]).toUpperCase()} HELP.`);
}
