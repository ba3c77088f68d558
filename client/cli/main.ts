/**
 * The `tidekv` command line (the package's bin, client/bin/tidekv.mjs).
 *
 *   tidekv cli [--url URL] [--node NAME] [--token T] [-3] [-c] [COMMAND ARGS...]
 *   tidekv bridge --listen PORT --url URL [--token T] [--cluster]
 *   tidekv cluster info|nodes|check [--url URL]
 *   tidekv consistency-test [--url URL] [--keys N] [--working-set N] [--duration S]
 *
 * Errors print one line on stderr and exit non-zero.
 */
import { Command, InvalidArgumentError } from "commander";
import { describeError } from "../src/errors.ts";
import { Bridge } from "./bridge.ts";
import { runCli } from "./cli.ts";
import { clusterCheck, clusterInfo, clusterNodes, type ClusterCommandOptions } from "./cluster-cmd.ts";
import { consistencyTest, report, type ConsistencyOptions } from "./consistency.ts";
import { CliError } from "./errors.ts";
import { DEFAULT_URL } from "./target.ts";

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a number >= 0");
  return n;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

function targetOptions(cmd: Command): Command {
  return cmd
    .option("-u, --url <url>", `tidekv URL (env TIDEKV_URL; default ${DEFAULT_URL})`)
    .option("--node <name>", "talk to one node: <base>/node/<name>")
    .option("--token <token>", "access token (env TIDEKV_TOKEN)");
}

/** Waits for SIGINT/SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

export function program(setExit: (code: number) => void): Command {
  const root = new Command("tidekv")
    .description("tidekv command line: a redis-cli work-alike, a TCP bridge for Redis tools, cluster tools")
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)");

  targetOptions(root.command("cli").description("run one command, or an interactive prompt without one"))
    .option("-3", "use RESP3 (HELLO 3)")
    .option("-c", "cluster mode: follow MOVED and ASK redirections")
    .option("-n <db>", "database number", int(0))
    .option("-r <repeat>", "run the command this many times (-1: forever)", int(-1))
    .option("-i <interval>", "seconds to wait between repeats", positiveNumber)
    .option("-e", "exit with status 1 when the reply is an error")
    .option("-x", "read the last argument from stdin")
    .option("--raw", "raw output even on a terminal")
    .option("--no-raw", "formatted output (redis-cli style) even when stdout is not a terminal")
    .argument("[command...]", "command and arguments")
    .passThroughOptions()
    .action(async (args: string[], o: Record<string, unknown>) => {
      setExit(
        await runCli(args, {
          url: o.url as string | undefined,
          node: o.node as string | undefined,
          token: o.token as string | undefined,
          resp3: Boolean(o["3"]),
          cluster: Boolean(o.c),
          db: o.n as number | undefined,
          repeat: o.r as number | undefined,
          interval: o.i as number | undefined,
          errorExit: Boolean(o.e),
          stdinLast: Boolean(o.x),
          raw: o.raw as boolean | undefined,
        }),
      );
    });

  root
    .command("bridge")
    .description("serve RESP on a local TCP port, one WebSocket per connection (redis-cli, redis-benchmark, ioredis...)")
    .requiredOption("-l, --listen <port>", "local TCP port (127.0.0.1)", int(0, 65535))
    .option("-u, --url <url>", `tidekv URL (env TIDEKV_URL; default ${DEFAULT_URL})`)
    .option("--token <token>", "access token (env TIDEKV_TOKEN)")
    .option("--cluster", "one local port per cluster node, node addresses rewritten to them")
    .option("--host <addr>", "local address to listen on", "127.0.0.1")
    .action(async (o: { listen: number; url?: string; token?: string; cluster?: boolean; host: string }) => {
      const bridge = new Bridge({
        listen: o.listen,
        host: o.host,
        url: o.url ?? process.env.TIDEKV_URL ?? DEFAULT_URL,
        token: o.token ?? process.env.TIDEKV_TOKEN,
        cluster: o.cluster,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      try {
        await bridge.start();
      } catch (e) {
        await bridge.close();
        if (e instanceof CliError) throw e;
        throw new CliError(`bridge: ${describeError(e)}`);
      }
      process.stderr.write("ready (Ctrl-C to stop)\n");
      await untilSignal();
      await bridge.close();
      setExit(0);
    });

  const cluster = root.command("cluster").description("cluster views and checks");
  const clusterSub = (name: string, description: string, fn: (o: ClusterCommandOptions, print: (l: string) => void) => Promise<number>) =>
    targetOptions(cluster.command(name).description(description)).action(async (o: ClusterCommandOptions) => setExit(await fn(o, out)));
  clusterSub("info", "cluster state and shards: slot ranges, roles, offsets, lag", clusterInfo);
  clusterSub("nodes", "one line per node", clusterNodes);
  clusterSub("check", "health check: coverage, agreement, open slots, failed nodes (exit 1 on problems)", clusterCheck).option(
    "--max-lag <bytes>",
    "warn about replicas lagging more than this",
    int(0),
  );

  targetOptions(root.command("consistency-test").description("read-then-INCR consistency checker (redis-rb-cluster's consistency-test)"))
    .option("--keys <n>", "keyspace size", int(1), 10000)
    .option("--working-set <n>", "size of the often-written subset", int(1), 1000)
    .option("--duration <seconds>", "stop after this long (default: until Ctrl-C)", positiveNumber)
    .option("--delay <ms>", "pause after each read+write", positiveNumber)
    .option("--cluster", "route by slot (CLUSTER SLOTS) instead of through the URL")
    .action(async (o: ConsistencyOptions & { delay?: number }) => {
      const stop = { requested: false };
      const onSignal = () => {
        stop.requested = true;
      };
      process.on("SIGINT", onSignal);
      try {
        const r = await consistencyTest({ ...o, delayMs: o.delay }, out, stop);
        out(`Summary: ${report(r)}`);
        if (r.lost > 0) process.stderr.write(`consistency-test: ${r.lost} acknowledged write(s) lost\n`);
        setExit(r.lost > 0 ? 1 : 0);
      } finally {
        process.off("SIGINT", onSignal);
      }
    });

  return root;
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const root = program((c) => (code = c));
  root.exitOverride();
  try {
    await root.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      // commander printed the message already (help, version, usage errors)
      return err.exitCode ?? 2;
    }
    process.stderr.write(`tidekv: ${e instanceof CliError ? e.message : describeError(e)}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

