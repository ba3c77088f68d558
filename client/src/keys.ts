/**
 * Which argument of a command is its (first) key, from the server's own
 * `COMMAND INFO` (Redis 7 key specs; first-key position as a fallback), so
 * a cluster client routes every command the server knows, including
 * EVAL/FCALL (numkeys), XREAD (after STREAMS) and subcommands
 * (OBJECT ENCODING key).
 */
import type { Reply } from "../../shared/resp/index.ts";
import { argText, type Argv } from "./connection.ts";
import { replyItems, replyNumber, replyPairs, replyText } from "./values.ts";

type Begin = { type: "index"; index: number } | { type: "keyword"; keyword: string; startFrom: number } | { type: "unknown" };
type Find =
  | { type: "range"; lastKey: number; step: number }
  | { type: "keynum"; keyNumIndex: number; firstKey: number }
  | { type: "unknown" };

export interface CommandKeyInfo {
  readonly name: string;
  readonly firstKey: number;
  readonly specs: readonly { begin: Begin; find: Find }[];
  readonly subcommands: ReadonlyMap<string, CommandKeyInfo>;
}

function fields(r: Reply | undefined): Map<string, Reply> {
  return new Map(replyPairs(r) ?? []);
}

function parseSpec(r: Reply): { begin: Begin; find: Find } {
  const f = fields(r);
  const b = fields(f.get("begin_search"));
  const bSpec = fields(b.get("spec"));
  let begin: Begin = { type: "unknown" };
  if (replyText(b.get("type")) === "index") begin = { type: "index", index: replyNumber(bSpec.get("index")) ?? 0 };
  else if (replyText(b.get("type")) === "keyword") {
    begin = {
      type: "keyword",
      keyword: replyText(bSpec.get("keyword")) ?? "",
      startFrom: replyNumber(bSpec.get("startfrom")) ?? 1,
    };
  }
  const k = fields(f.get("find_keys"));
  const kSpec = fields(k.get("spec"));
  let find: Find = { type: "unknown" };
  if (replyText(k.get("type")) === "range") {
    find = { type: "range", lastKey: replyNumber(kSpec.get("lastkey")) ?? 0, step: replyNumber(kSpec.get("keystep")) ?? 1 };
  } else if (replyText(k.get("type")) === "keynum") {
    find = {
      type: "keynum",
      keyNumIndex: replyNumber(kSpec.get("keynumidx")) ?? 0,
      firstKey: replyNumber(kSpec.get("firstkey")) ?? 1,
    };
  }
  return { begin, find };
}

/** One entry of a COMMAND INFO reply (null for unknown commands). */
export function parseCommandInfo(entry: Reply): CommandKeyInfo | null {
  const items = replyItems(entry);
  if (!items || items.length < 6) return null;
  const name = (replyText(items[0]) ?? "").toLowerCase();
  const specs = (replyItems(items[8]) ?? []).map(parseSpec);
  const subcommands = new Map<string, CommandKeyInfo>();
  for (const sub of replyItems(items[9]) ?? []) {
    const info = parseCommandInfo(sub);
    if (info) subcommands.set(info.name.slice(info.name.indexOf("|") + 1), info);
  }
  return { name, firstKey: replyNumber(items[3]) ?? 0, specs, subcommands };
}

/** The index in argv of the command's first key, or undefined for a keyless call. */
export function firstKeyIndex(info: CommandKeyInfo, argv: Argv): number | undefined {
  if (info.subcommands.size > 0 && argv.length > 1) {
    const sub = info.subcommands.get(argText(argv[1]).toLowerCase());
    if (sub) return firstKeyIndex(sub, argv);
  }
  const argc = argv.length;
  for (const { begin, find } of info.specs) {
    let start: number | undefined;
    if (begin.type === "index") start = begin.index;
    else if (begin.type === "keyword") {
      const want = begin.keyword.toLowerCase();
      if (begin.startFrom >= 0) {
        for (let i = begin.startFrom; i < argc; i++) {
          if (argText(argv[i]).toLowerCase() === want) {
            start = i + 1;
            break;
          }
        }
      } else {
        for (let i = argc + begin.startFrom; i > 0; i--) {
          if (argText(argv[i]).toLowerCase() === want) {
            start = i + 1;
            break;
          }
        }
      }
    }
    if (start === undefined || start <= 0 || start >= argc) continue;
    if (find.type === "range") return start;
    if (find.type === "keynum") {
      const n = Number(argText(argv[start + find.keyNumIndex]));
      if (Number.isInteger(n) && n > 0 && start + find.firstKey < argc) return start + find.firstKey;
      continue;
    }
  }
  if (info.specs.length === 0 && info.firstKey > 0 && info.firstKey < argc) return info.firstKey;
  return undefined;
}
