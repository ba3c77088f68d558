import type { Command, KeySpec } from "./spec.ts";

const decoder = new TextDecoder();

/**
 * The positions of the key arguments of `argv`, found from the command's key
 * specs the way Redis's getKeysUsingKeySpecs finds them (begin_search by index
 * or keyword, then find_keys by range or keynum). Malformed argument lists
 * yield the positions that exist; arity and syntax are checked elsewhere.
 */
export function keyPositions(command: Command, argv: readonly Uint8Array[]): number[] {
  if (command.getKeys) return command.getKeys(argv);
  const positions: number[] = [];
  for (const spec of command.def.key_specs) collectKeys(spec, argv, positions);
  if (command.def.key_specs.length > 1) {
    // Several specs may name the same argument; Redis reports each position once, in order.
    return [...new Set(positions)].sort((a, b) => a - b);
  }
  return positions;
}

function collectKeys(spec: KeySpec, argv: readonly Uint8Array[], out: number[]): void {
  const argc = argv.length;
  let first: number;
  const begin = spec.begin_search;
  if (begin.type === "index") {
    first = begin.spec.index;
  } else if (begin.type === "keyword") {
    const { keyword, startfrom } = begin.spec;
    const wanted = keyword.toLowerCase();
    first = 0;
    const start = startfrom > 0 ? startfrom : argc + startfrom;
    const step = startfrom > 0 ? 1 : -1;
    for (let i = start; i > 0 && i < argc; i += step) {
      if (decoder.decode(argv[i]).toLowerCase() === wanted) {
        first = i + 1;
        break;
      }
    }
    if (first === 0) return;
  } else {
    return;
  }
  if (first >= argc) return;

  const find = spec.find_keys;
  let last: number;
  let step: number;
  if (find.type === "range") {
    step = find.spec.keystep;
    if (find.spec.lastkey >= 0) {
      last = first + find.spec.lastkey;
    } else if (find.spec.limit <= 1) {
      last = argc + find.spec.lastkey;
    } else {
      last = first + Math.floor((argc - first) / find.spec.limit) + find.spec.lastkey;
    }
  } else if (find.type === "keynum") {
    const numIndex = first + find.spec.keynumidx;
    if (numIndex >= argc) return;
    const count = Number(decoder.decode(argv[numIndex]));
    if (!Number.isInteger(count) || count < 0) return;
    first = numIndex + find.spec.firstkey - find.spec.keynumidx;
    step = find.spec.keystep;
    last = first + (count - 1) * step;
  } else {
    return;
  }
  for (let i = first; i <= last && i < argc; i += step) out.push(i);
}
