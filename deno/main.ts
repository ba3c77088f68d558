/**
 * tidekv on Deno: `deno task start --port N [--data DIR] [--name NAME]
 * [--replicaof URL] [--host ADDR] [--sync full|normal]` (or
 * `npm run start:deno -- ...`). Serves /resp (the node NAME) and /node/NAME
 * over WebSocket, and the HTTP API (Upstash REST compatible) on the node NAME;
 * data lives in DIR/NAME.sqlite. SIGINT/SIGTERM close every
 * link and database before exiting.
 */
import { parseArgs } from "node:util";
import { serve, type DenoServer } from "./server.ts";
import type { LogLevel } from "./host.ts";
import type { SyncMode } from "./sql.ts";

const USAGE = `usage: deno task start --port N [options]

  --port N          port to listen on (0: any free port)
  --host ADDR       address to listen on (default 127.0.0.1)
  --data DIR        directory of the nodes' SQLite files (default .tidekv-data)
  --name NAME       the node /resp serves (default "default")
  --replicaof URL   make that node follow a master: ws://HOST:PORT/node/NAME
  --sync MODE       full (default: fsync every commit) or normal (fsync at checkpoints)
  --quiet           log warnings and errors only

Environment: TIDEKV_TOKEN (full access) and TIDEKV_READONLY_TOKEN (read-only), as
for the worker: with either set, clients must present a token (Authorization:
Bearer, ?token=, or AUTH); links this node opens present TIDEKV_TOKEN.
TIDEKV_HTTP_MAX_BODY: largest HTTP API request body in bytes (default 10 MB).
`;

function fail(message: string): never {
  console.error(`tidekv: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

let values;
try {
  values = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      data: { type: "string", default: ".tidekv-data" },
      name: { type: "string", default: "default" },
      replicaof: { type: "string" },
      sync: { type: "string", default: "full" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  fail((e as Error).message);
}
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) fail("--port N is required (0-65535)");
if (values.sync !== "full" && values.sync !== "normal") fail("--sync must be full or normal");
if (!/^[A-Za-z0-9._:-]{1,128}$/.test(values.name)) fail("--name: letters, digits and -_.: only");

const quiet = values.quiet;
const log = (level: LogLevel, message: string) => {
  if (level === "debug" || (quiet && level === "info")) return;
  (level === "info" ? console.log : console.error)(message);
};

let server: DenoServer;
try {
  server = serve({
    port,
    hostname: values.host,
    dataDir: values.data,
    defaultName: values.name,
    replicaof: values.replicaof,
    sync: values.sync as SyncMode,
    tokens: { token: Deno.env.get("TIDEKV_TOKEN") || null, readonlyToken: Deno.env.get("TIDEKV_READONLY_TOKEN") || null },
    httpMaxBody: Deno.env.get("TIDEKV_HTTP_MAX_BODY"),
    log,
  });
} catch (e) {
  console.error(`tidekv: cannot start: ${(e as Error)?.message ?? e}`);
  Deno.exit(1);
}
console.log(
  `tidekv (deno) listening on http://${server.hostname}:${server.port} ` +
    `(node ${values.name}, data ${values.data}${values.replicaof ? `, replica of ${values.replicaof}` : ""})`,
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`tidekv: ${signal}, closing links and databases`);
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));

// Test harness hook (as scripts/start.mjs): with TIDEKV_EXIT_WITH_PARENT set, stop once the parent process is gone.
if (Deno.env.get("TIDEKV_EXIT_WITH_PARENT")) {
  const parent = Deno.ppid;
  const watch = setInterval(() => {
    if (Deno.ppid !== parent) void stop("parent process gone");
  }, 1000);
  Deno.unrefTimer(watch);
}
