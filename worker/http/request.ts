/**
 * Turning an HTTP request into commands, as the Upstash REST API reads them:
 *
 * - `POST /` with a JSON array body: one command (`["SET","k","v","EX",100]`).
 * - `POST /pipeline` and `POST /multi-exec`: a JSON array of such arrays.
 * - Path style, `GET|POST|PUT|HEAD /set/k/v`: one path segment per argument
 *   (percent-decoded to bytes, so any byte can be sent); a POST/PUT body, when
 *   there is one, becomes the next argument as raw bytes (binary safe); then
 *   every query pair `?EX=100` adds `EX`, `100` (a pair without a value adds
 *   only its name). `_token` is the credential, never an argument.
 */

const encoder = new TextEncoder();

/** A request the API refuses before running anything: its status and error text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the body, refusing more than `limit` bytes (413) without buffering past it. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () => new HttpError(413, `ERR request body is larger than the limit of ${limit} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      // The rest is read and dropped (not cancelled): an unread request body
      // left behind stalls the connection's next request in some runtimes.
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        // discard
      }
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** One JSON command: a non-empty array of strings, numbers or booleans. */
function jsonCommand(value: unknown, where: string): Uint8Array[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, `ERR ${where} must be a non-empty JSON array of strings`);
  }
  return value.map((arg) => {
    switch (typeof arg) {
      case "string":
        return encoder.encode(arg);
      case "number":
        if (!Number.isFinite(arg)) break;
        return encoder.encode(String(arg));
      case "boolean":
        return encoder.encode(arg ? "true" : "false");
    }
    throw new HttpError(400, `ERR ${where} must contain only strings, numbers and booleans`);
  });
}

function parseJson(body: Uint8Array): unknown {
  if (body.length === 0) throw new HttpError(400, "ERR the request body is empty: expected a JSON array");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new HttpError(400, "ERR the request body is not valid JSON");
  }
}

/** `POST /`: one command in a JSON array. */
export function commandFromJson(body: Uint8Array): Uint8Array[] {
  return jsonCommand(parseJson(body), "the command");
}

/** `POST /pipeline`, `POST /multi-exec`: a JSON array of commands. */
export function commandsFromJson(body: Uint8Array): Uint8Array[][] {
  const value = parseJson(body);
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, "ERR the request body must be a non-empty JSON array of commands");
  }
  return value.map((command, i) => jsonCommand(command, `command ${i + 1}`));
}

/** Path style: `/cmd/arg/...`, then the body (if any), then the query pairs. */
export function commandFromPath(url: URL, body: Uint8Array | null): Uint8Array[] {
  const raw = url.pathname.slice(1);
  const argv = raw.split("/").map((segment) => percentDecode(segment, false));
  if (argv.length === 0 || argv[0].length === 0) throw new HttpError(400, "ERR no command in the request path");
  if (body && body.length > 0) argv.push(body);
  const query = url.search.startsWith("?") ? url.search.slice(1) : "";
  if (query) {
    for (const pair of query.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      const name = percentDecode(eq === -1 ? pair : pair.slice(0, eq), true);
      if (isTokenParam(name)) continue;
      argv.push(name);
      if (eq !== -1 && eq < pair.length - 1) argv.push(percentDecode(pair.slice(eq + 1), true));
    }
  }
  return argv;
}

function isTokenParam(name: Uint8Array): boolean {
  return name.length === 6 && new TextDecoder().decode(name) === "_token";
}

/** %XX escapes to bytes (invalid escapes stay as they are); `+` is a space in queries only. */
export function percentDecode(text: string, query: boolean): Uint8Array {
  const bytes = encoder.encode(text);
  if (!bytes.includes(0x25) && !(query && bytes.includes(0x2b))) return bytes;
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = (hexValue(bytes[i + 1]) << 4) | hexValue(bytes[i + 2]);
      i += 2;
    } else if (b === 0x2b && query) {
      out[n++] = 0x20;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n);
}

const isHex = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
const hexValue = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);
