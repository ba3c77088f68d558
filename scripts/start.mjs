#!/usr/bin/env node
// Serve tidekv locally: `wrangler dev` in local mode on 127.0.0.1.
//
//   npm start                         http://127.0.0.1:8787, data in .wrangler/state
//   npm start -- --port 9000          another port (also --port=9000)
//   npm start -- --persist-to DIR     another data directory (also --persist-to=DIR)
//   npm start -- --var TOKEN:secret   anything else is passed through to `wrangler dev`
//
// Data is persisted (wrangler's local Durable Object SQLite), so it survives a
// restart of `npm start`. The session is non-interactive (no hotkeys, no browser),
// so it also runs under CI, nohup or a test harness. SIGINT/SIGTERM/SIGHUP are
// forwarded to wrangler and this script exits with wrangler's exit code.
//
// Test harness hook: when TIDEKV_EXIT_WITH_PARENT=<pid> is set, the server is
// stopped as soon as that process is gone (no orphaned servers after a crashed
// test run).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_PORT = 8787;
const DEFAULT_IP = "127.0.0.1";

function usage(message) {
  if (message) process.stderr.write(`start: ${message}\n`);
  process.stderr.write(
    "usage: npm start -- [--port N] [--persist-to DIR] [other `wrangler dev` options]\n",
  );
  process.exit(2);
}

/** Splits argv into the options this script owns and the ones passed through. */
function parse(argv) {
  const out = { port: DEFAULT_PORT, ip: undefined, persistTo: undefined, interactive: undefined, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      process.stdout.write(
        "tidekv local server (wrangler dev)\n\n" +
          "  --port N             port to listen on (default 8787)\n" +
          "  --ip ADDR            address to listen on (default 127.0.0.1)\n" +
          "  --persist-to DIR     data directory (default .wrangler/state)\n" +
          "  other options are passed to `wrangler dev` (see `npx wrangler dev --help`)\n",
      );
      process.exit(0);
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) usage(`${name} needs a value`);
      i++;
      return v;
    };
    switch (name) {
      case "--port": {
        const v = takeValue();
        const port = Number(v);
        if (!/^\d+$/.test(v) || port < 1 || port > 65535) usage(`invalid port: ${v}`);
        out.port = port;
        break;
      }
      case "--ip":
        out.ip = takeValue();
        break;
      case "--persist-to":
        out.persistTo = resolve(takeValue());
        break;
      case "--show-interactive-dev-session":
        // Let an explicit choice win (with or without a value).
        out.interactive = eq > 0 ? arg.slice(eq + 1) : "true";
        break;
      default:
        out.rest.push(arg);
    }
  }
  return out;
}

const opts = parse(process.argv.slice(2));

const wrangler = join(root, "node_modules", ".bin", "wrangler");
if (!existsSync(wrangler)) {
  process.stderr.write("start: wrangler is not installed; run `npm install` first\n");
  process.exit(1);
}

const args = [
  "dev",
  "--local",
  "--ip", opts.ip ?? DEFAULT_IP,
  "--port", String(opts.port),
  "--persist-to", opts.persistTo ?? join(root, ".wrangler", "state"),
  `--show-interactive-dev-session=${opts.interactive ?? "false"}`,
  ...opts.rest,
];

// .bin/wrangler is a JS file (symlink); run it with this node so PATH does not matter.
const child = spawn(process.execPath, [wrangler, ...args], {
  cwd: root,
  stdio: "inherit",
  env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});

const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => forward(signal));

const parentPid = Number(process.env.TIDEKV_EXIT_WITH_PARENT);
if (Number.isInteger(parentPid) && parentPid > 0) {
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      clearInterval(timer);
      forward("SIGTERM");
      // Do not wait forever on a wedged wrangler.
      setTimeout(() => {
        if (child.exitCode === null) child.kill("SIGKILL");
      }, 10_000).unref();
    }
  }, 1000);
  timer.unref();
}

child.on("error", (err) => {
  process.stderr.write(`start: cannot run wrangler: ${err.message}\n`);
  process.exit(1);
});

child.on("exit", (code, signal) => {
  if (code !== null) process.exit(code);
  // Killed by a signal: report it the way a shell does.
  const n = signal ? constants.signals[signal] ?? 1 : 1;
  process.exit(128 + n);
});
