// The Cloudflare entry point: the Hono app and the Durable Object classes it binds.
export { NodeDO } from "../durable/node-do.ts";
export { CeilingDO } from "../durable/ceiling-do.ts";
export { ClusterDO } from "../durable/cluster-do.ts";
import { app } from "./app.ts";
export default app;
