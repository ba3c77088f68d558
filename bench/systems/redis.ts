/** redis-server on a free loopback port, no persistence: the reference. */
import { execFileSync } from "node:child_process";
import { startRedisServer } from "../../test/support/processes.ts";
import type { Host } from "./types.ts";

export async function startRedisHost(): Promise<Host> {
  const server = await startRedisServer();
  let version = "";
  try {
    version = execFileSync("redis-server", ["--version"], { encoding: "utf8" }).match(/v=(\S+)/)?.[1] ?? "";
  } catch {
    // just a label
  }
  return {
    label: `redis-server ${version} (127.0.0.1:${server.port})`.replace("  ", " "),
    systems: [
      {
        id: "redis",
        description: `redis-server ${version} over TCP, no persistence`,
        endpoint: { kind: "tcp", host: "127.0.0.1", port: server.port },
      },
    ],
    stop: () => server.stop(),
  };
}
