import type { Reply } from "../../shared/resp/reply.ts";
import { formatDouble } from "../../shared/util/numbers.ts";

/**
 * Replies as the Upstash REST API writes them: the RESP2 view of a reply in
 * JSON. Strings (simple and bulk) are JSON strings (UTF-8, invalid bytes
 * replaced: ask for base64 to get exact bytes), integers JSON numbers
 * (beyond 2^53 still written as exact digits), nil null, arrays arrays, RESP3
 * maps flattened to [k1, v1, k2, v2, ...] and sets as arrays, doubles as their
 * RESP2 text ("1.5"), booleans 1/0. With `Upstash-Encoding: base64` every
 * string is base64 except the simple string "OK"; error texts never are.
 */

const decoder = new TextDecoder();

export function replyToJson(reply: Reply, base64: boolean): string {
  switch (reply.type) {
    case "simple":
      return base64 && reply.value !== "OK" ? quote(toBase64(new TextEncoder().encode(reply.value))) : quote(reply.value);
    case "error":
      return quote(reply.value);
    case "integer":
      return String(reply.value);
    case "bulk":
    case "verbatim":
      return quote(base64 ? toBase64(reply.value) : decoder.decode(reply.value));
    case "null":
    case "nullarray":
      return "null";
    case "array":
    case "set":
    case "push":
      return `[${reply.value.map((r) => replyToJson(r, base64)).join(",")}]`;
    case "map": {
      const parts: string[] = [];
      for (const [k, v] of reply.value) parts.push(replyToJson(k, base64), replyToJson(v, base64));
      return `[${parts.join(",")}]`;
    }
    case "double": {
      const text = formatDouble(reply.value);
      return quote(base64 ? toBase64(new TextEncoder().encode(text)) : text);
    }
    case "boolean":
      return reply.value ? "1" : "0";
    case "bignum":
      return quote(base64 ? toBase64(new TextEncoder().encode(reply.value)) : reply.value);
  }
}

/** `{"result": ...}` or `{"error": "..."}` for one command. */
export function resultJson(reply: Reply, base64: boolean): string {
  return reply.type === "error" ? `{"error":${quote(reply.value)}}` : `{"result":${replyToJson(reply, base64)}}`;
}

export function errorJson(message: string): string {
  return `{"error":${quote(message)}}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array | null {
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}
