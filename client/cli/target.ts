/** Where a CLI command connects: --url, --node, --token (and TIDEKV_URL / TIDEKV_TOKEN). */
import { nodeNameOf, nodeUrl, normalizeUrl, hostPort } from "../src/url.ts";

export const DEFAULT_URL = "ws://127.0.0.1:8787/resp";

export interface TargetOptions {
  url?: string;
  node?: string;
  token?: string;
}

export interface Target {
  /** The URL to connect to, without the token (the client adds it). */
  readonly url: string;
  readonly token?: string;
}

export function resolveTarget(opts: TargetOptions): Target {
  const url = normalizeUrl(opts.url ?? process.env.TIDEKV_URL ?? DEFAULT_URL);
  const token = opts.token ?? process.env.TIDEKV_TOKEN ?? undefined;
  return { url: opts.node ? nodeUrl(url, opts.node) : url, token: token || undefined };
}

/** What the REPL prompt shows for a URL: the node name for `/node/<name>`, else host:port. */
export function promptLabel(url: string): string {
  return nodeNameOf(url) ?? hostPort(url);
}
