import { commandTable } from "../../shared/commands/index.ts";
import { keyPositions } from "../../shared/commands/keys.ts";
import { keySlot } from "../../shared/cluster/slot.ts";
import { authRequired, READONLY_USER } from "../../shared/engine/auth.ts";
import { encodeReply } from "../../shared/resp/encode.ts";
import { error as errorReply, type Reply } from "../../shared/resp/reply.ts";
import type { Router, Session } from "../router/types.ts";
import { identify, tokensOf } from "./auth.ts";
import { errorJson, resultJson } from "./reply.ts";
import { commandFromJson, commandFromPath, commandsFromJson, HttpError, readBody } from "./request.ts";

/**
 * The HTTP API, compatible with the Upstash Redis REST API (so the
 * unmodified `@upstash/redis` SDK works): see request.ts for how requests
 * become commands, reply.ts for how replies become JSON, auth.ts for
 * credentials. Commands run through a Router session (one per request), so
 * the same code serves one node or a cluster.
 *
 * Status codes: 200 with `{"result": ...}` (or an array of results for
 * /pipeline and /multi-exec); 400 with `{"error": "..."}` for a failed
 * command, a discarded transaction and a malformed request; 401 for a missing
 * or wrong credential; 405 for a method other than GET/HEAD/POST/PUT (and for
 * /pipeline and /multi-exec, anything but POST/PUT); 413 over the body limit.
 * Every response carries `upstash-sync-token`.
 *
 * Runtime-neutral: the worker (worker/app.ts) and the Deno host
 * (deno/server.ts) mount it with their own Router and settings.
 */

/** The settings the API reads, as environment variables (the worker's env holds them, and more). */
export interface HttpSettings {
  /** Full-access token; unset (and no read-only token): open. */
  TIDEKV_TOKEN?: string;
  /** Read-only token. */
  TIDEKV_READONLY_TOKEN?: string;
  /** Largest request body in bytes (default 10 MB). */
  TIDEKV_HTTP_MAX_BODY?: string;
}

export const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const SYNC_TOKEN = "upstash-sync-token";
const METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);
const encoder = new TextEncoder();

/**
 * Commands the HTTP API does not run: they configure or take over a
 * connection, and an HTTP request has none (AUTH: use the Authorization header).
 */
const NOT_OVER_HTTP = new Set([
  "auth", "hello", "quit", "reset", "select", "psync", "sync", "replconf", "monitor",
  "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
]);

type Kind = "single" | "pipeline" | "multi-exec";

interface Options {
  readonly base64: boolean;
  readonly resp2: boolean;
}

export function maxBody(env: HttpSettings): number {
  const n = Number(env.TIDEKV_HTTP_MAX_BODY);
  return env.TIDEKV_HTTP_MAX_BODY && Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_BODY;
}

/**
 * The API's request handler; `routerFor` picks how commands reach the store,
 * from the settings passed with each request (`E`: the worker passes its
 * whole env, from which it builds its cluster router).
 */
export function httpApi<E extends HttpSettings>(routerFor: (env: E) => Router): (request: Request, env: E) => Promise<Response> {
  return (request, env) => handle(request, env, routerFor);
}

async function handle<E extends HttpSettings>(request: Request, env: E, routerFor: (env: E) => Router): Promise<Response> {
  const url = new URL(request.url);
  const incomingToken = request.headers.get(SYNC_TOKEN) || null;
  let syncToken = incomingToken;
  const reply = (status: number, body: string | Uint8Array, contentType = "application/json"): Response => {
    const headers = new Headers({ "content-type": contentType, [SYNC_TOKEN]: syncToken ?? "" });
    if (status === 405) headers.set("allow", kindOf(url.pathname) === "single" ? "GET, HEAD, POST, PUT" : "POST, PUT");
    // Cast: Deno's lib types accept only Uint8Array<ArrayBuffer> as a body; ours are typed ArrayBufferLike.
    return new Response(request.method === "HEAD" ? null : (body as BodyInit), { status, headers });
  };
  let session: Session | null = null;
  try {
    const method = request.method.toUpperCase();
    const kind = kindOf(url.pathname);
    if (!METHODS.has(method) || (kind !== "single" && method !== "POST" && method !== "PUT")) {
      throw new HttpError(405, `ERR method ${method} is not allowed here: use ${kind === "single" ? "GET, HEAD, POST or PUT" : "POST"}`);
    }
    const options = responseOptions(request);
    const identity = identify(request, url, tokensOf(env));
    const hasBody = method === "POST" || method === "PUT";
    const body = hasBody ? await readBody(request, maxBody(env)) : null;
    let commands: Uint8Array[][];
    if (kind === "pipeline" || kind === "multi-exec") commands = commandsFromJson(body!);
    else if (url.pathname === "/") {
      if (!body) throw new HttpError(405, "ERR use POST with a JSON array body, or /COMMAND/arg/... paths");
      commands = [commandFromJson(body)];
    } else commands = [commandFromPath(url, body)];

    if (kind === "multi-exec") checkSameSlot(commands);
    const refusals = commands.map(refusal);
    if (kind !== "pipeline") {
      const refused = refusals.find((r) => r !== null);
      if (refused) throw new HttpError(400, refused);
    }

    const tokens = tokensOf(env);
    session = await routerFor(env).open({
      user: identity.kind === "user" ? identity.user : undefined,
      readonly: identity.kind === "user" && identity.user === READONLY_USER,
      requireAuth: identity.kind === "acl" && authRequired(tokens),
      syncToken: incomingToken,
      // A client that presents a sync token may be served by a replica that has
      // applied it; one without a token reads from masters (never older data).
      readFromReplicas: incomingToken !== null,
    });
    if (identity.kind === "acl") {
      // Awaited before anything else is sent: nothing may run unless the login succeeded.
      const login = await session.send([encoder.encode("AUTH"), encoder.encode(identity.user), identity.password]);
      if (login.type === "error") throw new HttpError(401, login.value);
    }
    const out = await run(session, kind, commands, refusals, options, identity.kind === "acl");
    syncToken = session.syncToken ?? incomingToken;
    return reply(out.status, out.body, options.resp2 ? "application/octet-stream" : "application/json");
  } catch (e) {
    if (e instanceof HttpError) return reply(e.status, errorJson(e.message));
    console.error(`[tidekv http] ${(e as Error)?.stack ?? e}`);
    return reply(500, errorJson(`ERR internal error: ${(e as Error)?.message ?? e}`));
  } finally {
    session?.close();
  }
}

function kindOf(path: string): Kind {
  return path === "/pipeline" ? "pipeline" : path === "/multi-exec" ? "multi-exec" : "single";
}

function responseOptions(request: Request): Options {
  const base64 = (request.headers.get("upstash-encoding") ?? "").trim().toLowerCase() === "base64";
  const format = (request.headers.get("upstash-response-format") ?? "json").trim().toLowerCase();
  if (format !== "json" && format !== "resp2") {
    throw new HttpError(400, `ERR unsupported Upstash-Response-Format '${format}': use json or resp2`);
  }
  if (format === "resp2" && base64) {
    throw new HttpError(400, "ERR Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2");
  }
  return { base64, resp2: format === "resp2" };
}

function refusal(argv: Uint8Array[]): string | null {
  const name = new TextDecoder().decode(argv[0]).toLowerCase();
  return NOT_OVER_HTTP.has(name) ? `ERR Command is not available over the HTTP API: '${name}'` : null;
}

/** /multi-exec runs on one shard: every key must hash to one slot (Redis's CROSSSLOT). */
function checkSameSlot(commands: Uint8Array[][]): void {
  let slot = -1;
  for (const argv of commands) {
    const command = commandTable.resolve(argv);
    if ("type" in command) continue; // the node answers unknown commands and arity errors
    for (const i of keyPositions(command, argv)) {
      const s = keySlot(argv[i]);
      if (slot === -1) slot = s;
      else if (s !== slot) throw new HttpError(400, "CROSSSLOT Keys in request don't hash to the same slot");
    }
  }
}

interface Outcome {
  readonly status: number;
  readonly body: string | Uint8Array;
}

async function run(
  session: Session,
  kind: Kind,
  commands: Uint8Array[][],
  refusals: (string | null)[],
  options: Options,
  aclUser: boolean,
): Promise<Outcome> {
  // Everything is sent before anything is awaited: one batch, one round trip.
  if (kind === "multi-exec") {
    const multi = session.send([encoder.encode("MULTI")]);
    if (aclUser) {
      // An ACL user may be refused MULTI: the commands must then not run one by one.
      const refused = await multi;
      if (refused.type === "error") return failure(refused.value, options);
    }
    const queued = commands.map((argv) => session.send(argv));
    const exec = session.send([encoder.encode("EXEC")]);
    const [multiReply, queuedReplies, execReply] = await Promise.all([multi, Promise.all(queued), exec]);
    if (multiReply.type === "error") return failure(multiReply.value, options);
    if (execReply.type === "error") {
      const firstQueued = queuedReplies.find((r) => r.type === "error");
      const plainAbort = execReply.value.startsWith("EXECABORT Transaction discarded because of previous errors");
      const message = plainAbort && firstQueued?.type === "error" ? `EXECABORT Transaction discarded because of: ${firstQueued.value}` : execReply.value;
      return failure(message, options);
    }
    if (execReply.type !== "array") return failure("EXECABORT Transaction discarded: a watched key changed", options);
    return many(execReply.value, options);
  }
  const pending = commands.map((argv, i) => (refusals[i] ? Promise.resolve(errorReply(refusals[i]!) as Reply) : session.send(argv)));
  const replies = await Promise.all(pending);
  if (kind === "pipeline") return many(replies, options);
  const only = replies[0];
  if (options.resp2) return { status: only.type === "error" ? 400 : 200, body: encodeReply(only, 2) };
  return { status: only.type === "error" ? 400 : 200, body: resultJson(only, options.base64) };
}

function many(replies: readonly Reply[], options: Options): Outcome {
  if (options.resp2) {
    const parts = replies.map((r) => encodeReply(r, 2));
    let total = 0;
    for (const p of parts) total += p.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return { status: 200, body: out };
  }
  return { status: 200, body: `[${replies.map((r) => resultJson(r, options.base64)).join(",")}]` };
}

function failure(message: string, options: Options): Outcome {
  return options.resp2 ? { status: 400, body: encodeReply(errorReply(message), 2) } : { status: 400, body: errorJson(message) };
}
