import type { Reply } from "../../shared/resp/index.ts";

const decoder = new TextDecoder();

/**
 * A reply as plain JS for assertions (workerd and Deno tests): bulk ->
 * string, null -> null, arrays -> arrays, maps -> [key, value] pairs,
 * errors -> { error }; other scalars as their value.
 */
export function plain(reply: Reply): unknown {
  switch (reply.type) {
    case "bulk":
    case "verbatim":
      return decoder.decode(reply.value);
    case "simple":
      return reply.value;
    case "error":
      return { error: reply.value };
    case "null":
    case "nullarray":
      return null;
    case "array":
    case "set":
    case "push":
      return reply.value.map(plain);
    case "map":
      return reply.value.map(([k, v]) => [plain(k), plain(v)]);
    default:
      return reply.value;
  }
}
