/**
 * tidekv endpoint URLs. A deployment serves RESP over WebSocket at
 * `<base>/resp` (the whole store) and `<base>/node/<name>` (one node), where
 * `<base>` is the origin plus an optional path prefix. A token travels as the
 * `token` query parameter.
 */

const NODE_PATH = /\/node\/([^/]+)\/?$/;
const RESP_PATH = /\/resp\/?$/;

/**
 * A user's URL as a WebSocket URL: `http(s)` becomes `ws(s)`, a bare
 * `host:port` becomes `ws://host:port`, and a URL with no path gets `/resp`.
 */
export function normalizeUrl(input: string): string {
  let text = input.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `ws://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`invalid URL: ${input}`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`unsupported URL scheme ${url.protocol} (use ws://, wss://, http:// or https://): ${input}`);
  }
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/resp";
  url.hash = "";
  return url.toString();
}

/** The deployment's base: the URL without its `/resp` or `/node/<name>` suffix, query kept. */
export function baseUrl(input: string): URL {
  const url = new URL(normalizeUrl(input));
  url.pathname = url.pathname.replace(NODE_PATH, "").replace(RESP_PATH, "").replace(/\/+$/, "");
  return url;
}

/** `<base>/node/<name>` with the query (token) of `input`. */
export function nodeUrl(input: string, name: string): string {
  const url = baseUrl(input);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/node/${encodeURIComponent(name)}`;
  return url.toString();
}

/** `<base>/resp` with the query (token) of `input`. */
export function respUrl(input: string): string {
  const url = baseUrl(input);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/resp`;
  return url.toString();
}

/** The node name of a `/node/<name>` URL, or undefined. */
export function nodeNameOf(input: string): string | undefined {
  const m = NODE_PATH.exec(new URL(normalizeUrl(input)).pathname);
  return m ? decodeURIComponent(m[1]) : undefined;
}

/** The URL with `?token=` set (or left alone when token is empty/undefined). */
export function withToken(input: string, token: string | undefined): string {
  if (!token) return input;
  const url = new URL(input);
  url.searchParams.set("token", token);
  return url.toString();
}

/** The token carried by the URL, if any. */
export function tokenOf(input: string): string | undefined {
  return new URL(input).searchParams.get("token") ?? undefined;
}

/** The URL for messages and logs: the token is replaced by `***`. */
export function redactUrl(input: string): string {
  try {
    const url = new URL(input);
    if (url.searchParams.has("token")) url.searchParams.set("token", "***");
    return url.toString().replace("token=%2A%2A%2A", "token=***");
  } catch {
    return input;
  }
}

/** `host:port` of the URL (the port the scheme implies when absent). */
export function hostPort(input: string): string {
  const url = new URL(input);
  const port = url.port || (url.protocol === "wss:" || url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}
