/**
 * Replies as plain JavaScript values, for `call()` and `pipeline()`.
 *
 *   simple, bulk, verbatim -> string (UTF-8), or Uint8Array for bulks with `buffers`
 *   integer                -> number, or bigint beyond 2^53
 *   null, null array       -> null
 *   array, set, push       -> array
 *   map                    -> plain object; keys converted to strings
 *   double                 -> number          boolean -> boolean
 *   big number             -> bigint          error (nested, e.g. in EXEC) -> RedisError
 */
import type { Reply } from "../../shared/resp/index.ts";
import { RedisError } from "./errors.ts";

export type Value =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | RedisError
  | Value[]
  | { [key: string]: Value };

const decoder = new TextDecoder();

export interface ToValueOptions {
  /** Keep bulk strings as bytes (Uint8Array) instead of decoding them as UTF-8. */
  buffers?: boolean;
}

export function toValue(reply: Reply, options: ToValueOptions = {}): Value {
  switch (reply.type) {
    case "simple":
      return reply.value;
    case "error":
      return new RedisError(reply.value);
    case "integer":
      return reply.value;
    case "bulk":
      return options.buffers ? reply.value : decoder.decode(reply.value);
    case "verbatim":
      return decoder.decode(reply.value);
    case "null":
    case "nullarray":
      return null;
    case "array":
    case "set":
    case "push":
      return reply.value.map((r) => toValue(r, options));
    case "map": {
      const out: { [key: string]: Value } = {};
      for (const [k, v] of reply.value) out[keyText(k)] = toValue(v, options);
      return out;
    }
    case "double":
      return reply.value;
    case "boolean":
      return reply.value;
    case "bignum":
      return BigInt(reply.value);
  }
}

function keyText(r: Reply): string {
  switch (r.type) {
    case "bulk":
    case "verbatim":
      return decoder.decode(r.value);
    case "simple":
    case "error":
    case "bignum":
      return r.value;
    case "integer":
    case "double":
    case "boolean":
      return String(r.value);
    default:
      return JSON.stringify(toValue(r), (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  }
}

/** A reply's text when it is a string-like scalar (bulk, simple, verbatim), else undefined. */
export function replyText(r: Reply | undefined): string | undefined {
  if (!r) return undefined;
  if (r.type === "bulk" || r.type === "verbatim") return decoder.decode(r.value);
  if (r.type === "simple") return r.value;
  return undefined;
}

/** A reply's number when it is an integer (or a numeric string), else undefined. */
export function replyNumber(r: Reply | undefined): number | undefined {
  if (!r) return undefined;
  if (r.type === "integer") return Number(r.value);
  if (r.type === "double") return r.value;
  const t = replyText(r);
  if (t !== undefined && /^-?\d+$/.test(t)) return Number(t);
  return undefined;
}

/**
 * A RESP3 map or a RESP2 flat key/value array as [key text, value] pairs
 * (how Redis sends the same record in each protocol). Undefined otherwise.
 */
export function replyPairs(r: Reply | undefined): [string, Reply][] | undefined {
  if (!r) return undefined;
  if (r.type === "map") {
    return r.value.map(([k, v]) => [replyText(k) ?? String(toValue(k)), v]);
  }
  if (r.type === "array" && r.value.length % 2 === 0) {
    const out: [string, Reply][] = [];
    for (let i = 0; i < r.value.length; i += 2) {
      const k = replyText(r.value[i]);
      if (k === undefined) return undefined;
      out.push([k, r.value[i + 1]]);
    }
    return out;
  }
  return undefined;
}

/** The elements of an array, set or push reply; undefined otherwise. */
export function replyItems(r: Reply | undefined): readonly Reply[] | undefined {
  if (!r) return undefined;
  if (r.type === "array" || r.type === "set" || r.type === "push") return r.value;
  return undefined;
}
