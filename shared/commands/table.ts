import { error, type ErrorReply } from "../resp/reply.ts";
import { wrongArity } from "../engine/errors.ts";
import type { Command, CommandDef, Handler, HandlerEntry, HandlerTable } from "./spec.ts";

const decoder = new TextDecoder();

/** One group of commands: its metadata file and its handlers. */
export interface CommandGroup {
  readonly group: string;
  readonly defs: Record<string, CommandDef>;
  readonly handlers: HandlerTable;
}

/**
 * The node's command table: only commands that have a handler exist, each with
 * the metadata Redis reports for it.
 */
export class CommandTable {
  private readonly byName = new Map<string, Command>();

  constructor(groups: readonly CommandGroup[]) {
    for (const { group, defs, handlers } of groups) {
      for (const [name, entry] of Object.entries(handlers)) {
        const def = defs[name];
        if (!def) throw new Error(`command '${name}' has a handler but no definition in defs/${group}.json`);
        this.byName.set(name, buildCommand(group, name, name, def, normalize(entry)));
      }
    }
  }

  get(name: string): Command | undefined {
    return this.byName.get(name);
  }

  all(): IterableIterator<Command> {
    return this.byName.values();
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * Resolves argv to a command or subcommand, checking arity, with Redis's
   * exact error texts for unknown commands, unknown subcommands and wrong arity.
   */
  resolve(argv: readonly Uint8Array[]): Command | ErrorReply {
    const name = lowerName(argv[0]);
    const command = this.byName.get(name);
    if (!command) return error(unknownCommand(argv));
    let resolved = command;
    if (command.subcommands && !(argv.length === 1 && command.handler)) {
      // A container runs alone only when it has a handler of its own (COMMAND).
      if (argv.length === 1) return error(wrongArity(command.fullName));
      const sub = command.subcommands.get(lowerName(argv[1]));
      if (!sub) {
        return error(
          `ERR unknown subcommand '${truncate(decoder.decode(argv[1]))}'. Try ${name.toUpperCase()} HELP.`,
        );
      }
      resolved = sub;
    }
    const arity = resolved.arity;
    if ((arity > 0 && argv.length !== arity) || argv.length < -arity) return error(wrongArity(resolved.fullName));
    return resolved;
  }
}

/**
 * A command name in lower case. Names are short ASCII words: those are
 * lowered byte by byte (a TextDecoder call costs more than the lookup it
 * feeds); anything else is decoded as before.
 */
function lowerName(bytes: Uint8Array): string {
  if (bytes.length > 32) return decoder.decode(bytes).toLowerCase();
  let name = "";
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 0x80) return decoder.decode(bytes).toLowerCase();
    name += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return name;
}

function normalize(entry: Handler | HandlerEntry): HandlerEntry {
  return typeof entry === "function" ? { handler: entry } : entry;
}

function buildCommand(group: string, name: string, fullName: string, def: CommandDef, entry: HandlerEntry, parent?: Command): Command {
  const flags = new Set(def.flags);
  const command: Command = {
    name,
    fullName,
    group,
    def,
    arity: def.arity,
    flags,
    isWrite: flags.has("write"),
    isReadonly: flags.has("readonly"),
    noAuth: flags.has("no_auth"),
    handler: entry.handler,
    getKeys: entry.getKeys,
    parent,
  };
  if (entry.subcommands) {
    const subs = new Map<string, Command>();
    for (const [subName, subEntry] of Object.entries(entry.subcommands)) {
      const subDef = def.subcommands?.[subName];
      if (!subDef) throw new Error(`subcommand '${name}|${subName}' has a handler but no definition`);
      subs.set(subName, buildCommand(group, subName, `${name}|${subName}`, subDef, normalize(subEntry), command));
    }
    (command as { subcommands?: Map<string, Command> }).subcommands = subs;
  }
  return command;
}

/** Redis quotes at most 128 bytes of a name and lists the first arguments up to a budget. */
function truncate(text: string): string {
  return text.length > 128 ? text.slice(0, 128) : text;
}

function unknownCommand(argv: readonly Uint8Array[]): string {
  let args = "";
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    const remaining = 128 - args.length;
    args += `'${decoder.decode(argv[i]).slice(0, remaining)}' `;
  }
  return `ERR unknown command '${truncate(decoder.decode(argv[0]))}', with args beginning with: ${args}`;
}
