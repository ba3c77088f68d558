import type { Reply } from "../resp/reply.ts";
import type { CommandCall } from "../engine/call.ts";
import type { Blocked } from "../engine/blocking.ts";

/**
 * A command as the dispatcher sees it: the metadata Redis reports for it
 * (arity, flags, key specs, ACL categories, docs: loaded from defs/*.json) plus
 * the handler that implements it. One spec serves dispatch, slot routing,
 * CROSSSLOT, ACL checks and COMMAND INFO/DOCS/GETKEYS alike.
 */
export interface KeySpec {
  notes?: string;
  flags: string[];
  begin_search:
    | { type: "index"; spec: { index: number } }
    | { type: "keyword"; spec: { keyword: string; startfrom: number } }
    | { type: "unknown"; spec: Record<string, never> };
  find_keys:
    | { type: "range"; spec: { lastkey: number; keystep: number; limit: number } }
    | { type: "keynum"; spec: { keynumidx: number; firstkey: number; keystep: number } }
    | { type: "unknown"; spec: Record<string, never> };
}

/** The JSON shape of one command in defs/*.json. */
export interface CommandDef {
  arity: number;
  flags: string[];
  first_key: number;
  last_key: number;
  step: number;
  acl_categories: string[];
  tips: string[];
  key_specs: KeySpec[];
  subcommands?: Record<string, CommandDef>;
  docs: Record<string, unknown>;
}

/** A handler answers, or (blocking commands) returns Blocked to wait; see engine/blocking.ts. */
export type Handler = (call: CommandCall) => Reply | Blocked;

/** What a command group file exports: handlers by lowercase command name. */
export interface HandlerEntry {
  handler?: Handler;
  /** Key positions for commands whose keys the key specs cannot find (SORT's STORE, ...). */
  getKeys?: (argv: readonly Uint8Array[]) => number[];
  subcommands?: Record<string, Handler | HandlerEntry>;
}
export type HandlerTable = Record<string, Handler | HandlerEntry>;

export interface Command {
  /** Lowercase name, e.g. "get", or "get" for subcommand "config|get"'s `name`. */
  readonly name: string;
  /** "get", or "config|get" for a subcommand. */
  readonly fullName: string;
  readonly group: string;
  readonly def: CommandDef;
  readonly arity: number;
  readonly flags: ReadonlySet<string>;
  readonly isWrite: boolean;
  readonly isReadonly: boolean;
  readonly noAuth: boolean;
  readonly handler?: Handler;
  readonly getKeys?: (argv: readonly Uint8Array[]) => number[];
  readonly subcommands?: ReadonlyMap<string, Command>;
  readonly parent?: Command;
}
