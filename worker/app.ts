import { Hono } from "hono";
import { NODE_NAME_HEADER, type Env } from "../durable/node-do.ts";
import type { CeilingEnv } from "../durable/ceiling-do.ts";

/** The node `/resp` serves until cluster routing takes over. */
export const DEFAULT_NODE = "default";

/** Node names are path segments: letters, digits and -_.: up to 128 characters. */
const NODE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

export const app = new Hono<{ Bindings: Env }>();

app.get("/", (c) =>
  c.text("tidekv: RESP over WebSocket at /resp (whole store) and /node/NAME (one node)\n"),
);

app.get("/resp", (c) => forwardToNode(c.env, DEFAULT_NODE, c.req.raw));

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

function forwardToNode(env: Env, name: string, request: Request): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(NODE_NAME_HEADER, name);
  return env.NODE.getByName(name).fetch(new Request(request, { headers }));
}
