import { Hono } from "hono";
import { AUTH_HEADER, NODE_NAME_HEADER, type Env } from "../durable/node-do.ts";
import type { CeilingEnv } from "../durable/ceiling-do.ts";
import { authRequired, userForToken } from "../shared/engine/auth.ts";
import { httpApi, type HttpSettings } from "./http/index.ts";
import { presentedToken, tokensOf, UNAUTHORIZED } from "./http/auth.ts";
import { createRpcClusterRouter } from "./router/rpc-link.ts";
import { createClusterRouter } from "./router/node-link.ts";
import { serveResp } from "./proxy/resp.ts";

/** The node `/resp` serves until cluster routing takes over. */
export const DEFAULT_NODE = "default";

/** Node names are path segments: letters, digits and -_.: up to 128 characters. */
const NODE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

export const app = new Hono<{ Bindings: Env }>();

app.get("/", (c) =>
  c.text("tidekv: RESP over WebSocket at /resp (whole store) and /node/NAME (one node)\n"),
);

// The whole cluster through the routing proxy (worker/proxy/resp.ts, docs/proxy.md).
app.get("/resp", (c) => {
  const tokens = tokensOf(c.env);
  const presented = presentedToken(c.req.raw, new URL(c.req.url), "token");
  let user: string | undefined;
  if (presented !== null && authRequired(tokens)) {
    const known = userForToken(tokens, presented);
    if (known === null) return Response.json({ error: UNAUTHORIZED }, { status: 401 });
    user = known;
  }
  return serveResp(c.req.raw, createClusterRouter(c.env), { user, requireAuth: authRequired(tokens) && user === undefined });
});

// Benchmark ceiling (bench/README.md): only with the var TIDEKV_BENCH=1.
app.get("/bench/ceiling", (c) => {
  const env = c.env as Env & Partial<CeilingEnv>;
  if (env.TIDEKV_BENCH !== "1" || !env.CEILING) return c.notFound();
  return env.CEILING.getByName("ceiling").fetch(c.req.raw);
});

app.get("/node/:name", (c) => {
  const name = c.req.param("name");
  if (!NODE_NAME.test(name)) return c.text("invalid node name\n", 400);
  return forwardToNode(c.env, name, c.req.raw);
});

/**
 * Hands a public WebSocket upgrade to a node. Internal headers (`x-tidekv-*`)
 * are stripped first: only tidekv's own code may set them. A token on the
 * upgrade (`Authorization: Bearer`, or `?token=`) is checked here: a wrong one
 * is refused, a right one tells the node the connection is authenticated;
 * without one the client must AUTH (or HELLO ... AUTH) first.
 */
function forwardToNode(env: Env, name: string, request: Request): Promise<Response> | Response {
  const headers = publicHeaders(request.headers);
  headers.set(NODE_NAME_HEADER, name);
  const tokens = tokensOf(env);
  const presented = presentedToken(request, new URL(request.url), "token");
  if (presented !== null && authRequired(tokens)) {
    const user = userForToken(tokens, presented);
    if (user === null) return Response.json({ error: UNAUTHORIZED }, { status: 401 });
    headers.set(AUTH_HEADER, user);
  }
  return env.NODE.getByName(name).fetch(new Request(request, { headers }));
}

/** x-tidekv-* headers a client may send: informational, they grant nothing. */
const PUBLIC_TIDEKV_HEADERS = new Set(["x-tidekv-client-port", "x-tidekv-public-port"]);

/** Headers that carry meaning between tidekv's own parts only, never accepted from outside. */
function publicHeaders(incoming: Headers): Headers {
  const headers = new Headers();
  for (const [name, value] of incoming) {
    const lower = name.toLowerCase();
    if (lower.startsWith("x-tidekv-") && !PUBLIC_TIDEKV_HEADERS.has(lower)) continue;
    headers.append(name, value);
  }
  return headers;
}

// Everything else: the HTTP API (Upstash Redis REST compatible), routed over the cluster by slot.
const api = httpApi((env: Env & HttpSettings) => createRpcClusterRouter(env));
app.all("*", (c) => api(c.req.raw, c.env));
