/**
 * `tidekv cli`: redis-cli over WebSocket. With a command it runs it once and
 * prints the reply as redis-cli does; without one it is an interactive REPL
 * (prompt with the target, history in ~/.tidekv_history, redis-cli quoting).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { splitArgs, type Reply } from "../../shared/resp/index.ts";
import { Client } from "../src/client.ts";
import { parseRedirect, type Redirect } from "../src/cluster-protocol.ts";
import { ConnectionError, describeError } from "../src/errors.ts";
import { nodeUrl, redactUrl } from "../src/url.ts";
import { formatReply, printsVerbatim, type OutputMode } from "./format.ts";
import { promptLabel, resolveTarget, type TargetOptions } from "./target.ts";

export interface CliOptions extends TargetOptions {
  /** -3: RESP3. */
  resp3?: boolean;
  /** -c: follow MOVED/ASK. */
  cluster?: boolean;
  /** -n: database. */
  db?: number;
  /** -r: repeat count. */
  repeat?: number;
  /** -i: seconds between repeats. */
  interval?: number;
  /** -e: an error reply makes the exit status non-zero. */
  errorExit?: boolean;
  /** -x: read the last argument from stdin. */
  stdinLast?: boolean;
  /** --raw (true) / --no-raw (false); default: raw when stdout is not a TTY. */
  raw?: boolean;
}

const MAX_REDIRECTS = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function outputMode(raw: boolean | undefined): OutputMode {
  if (raw === true) return "raw";
  if (raw === false) return "standard";
  return process.stdout.isTTY || process.env.FAKETTY ? "standard" : "raw";
}

const write = (bytes: Uint8Array | string) => {
  process.stdout.write(typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One CLI session: the current connection and the state redis-cli shows in its prompt. */
class Session {
  client: Client;
  url: string;
  db: number;
  inMulti = false;
  preMultiDb = 0;
  interactive = false;
  readonly mode: OutputMode;

  constructor(
    url: string,
    private readonly opts: CliOptions,
    private readonly token: string | undefined,
  ) {
    this.url = url;
    this.db = opts.db ?? 0;
    this.mode = outputMode(opts.raw);
    this.client = this.open(url);
  }

  private open(url: string): Client {
    return new Client(url, {
      token: this.token,
      protocol: this.opts.resp3 ? 3 : 2,
      db: this.db,
      reconnect: false,
      onPush: (reply) => this.printPush(reply),
    });
  }

  /** Moves to another node (after MOVED/ASK). */
  async switchTo(url: string): Promise<void> {
    const old = this.client;
    this.url = url;
    this.client = this.open(url);
    await old.close();
  }

  prompt(): string {
    let p = promptLabel(this.url);
    if (this.db !== 0) p += `[${this.db}]`;
    if (this.inMulti) p += "(TX)";
    return `${p}> `;
  }

  private printPush(reply: Reply): void {
    write(formatReply(reply, this.mode));
  }

  /** Sends one command (following redirections with -c); prints its reply. Returns the reply. */
  async send(argv: Uint8Array[]): Promise<Reply> {
    const words = argv.map((a) => decoder.decode(a));
    let asking = false;
    for (let hops = 0; ; hops++) {
      const reply: Reply = asking
        ? (await this.client.pipelineReply([["ASKING"], argv]))[1]
        : await this.client.callReply(argv);
      asking = false;
      const redirect: Redirect | undefined = this.opts.cluster && reply.type === "error" ? parseRedirect(reply.value) : undefined;
      if (redirect && hops < MAX_REDIRECTS) {
        if (this.interactive) {
          write(`-> Redirected to slot [${redirect.slot}] located at ${redirect.endpoint}:${redirect.port}\n`);
        }
        await this.switchTo(nodeUrl(this.url, redirect.endpoint));
        asking = redirect.kind === "ASK";
        continue;
      }
      write(formatReply(reply, this.mode, printsVerbatim(words)));
      this.track(words, reply);
      return reply;
    }
  }

  /** redis-cli's bookkeeping for the prompt: SELECT, MULTI, EXEC, DISCARD, RESET. */
  private track(words: string[], reply: Reply): void {
    const cmd = words[0].toLowerCase();
    const ok = reply.type !== "error";
    if (cmd === "select" && words.length === 2 && ok) this.db = Number.parseInt(words[1], 10) || 0;
    else if (cmd === "multi" && words.length === 1 && ok) {
      this.inMulti = true;
      this.preMultiDb = this.db;
    } else if (cmd === "exec" && words.length === 1 && this.inMulti) {
      this.inMulti = false;
      if (!ok || reply.type === "null" || reply.type === "nullarray") this.db = this.preMultiDb;
    } else if (cmd === "discard" && words.length === 1 && ok) {
      this.inMulti = false;
      this.db = this.preMultiDb;
    } else if (cmd === "reset" && words.length === 1 && ok) {
      this.inMulti = false;
      this.db = 0;
    }
  }

  /** Resolves when the user interrupts a streaming command (SUBSCRIBE, MONITOR) in the REPL. */
  private interrupts: (() => void)[] = [];
  streaming = false;

  untilInterrupted(): Promise<void> {
    return new Promise((resolve) => this.interrupts.push(resolve));
  }

  /** Ends a streaming command: the connection (now in subscriber/monitor mode) is replaced. */
  async interrupt(): Promise<void> {
    for (const resolve of this.interrupts.splice(0)) resolve();
    await this.switchTo(this.url);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

const STREAMING = new Set(["subscribe", "psubscribe", "ssubscribe", "monitor"]);

/** Runs a command `repeat` times (-1: forever), as redis-cli's issueCommandRepeat; "failed" on a connection failure. */
async function issue(session: Session, argv: Uint8Array[], opts: CliOptions, repeat: number): Promise<"ok" | "error-reply" | "failed"> {
  const name = decoder.decode(argv[0]).toLowerCase();
  let sawError = false;
  for (let i = 0; repeat < 0 || i < repeat; i++) {
    let reply: Reply;
    try {
      if (STREAMING.has(name) && session.mode === "standard" && name !== "monitor") {
        write("Reading messages... (press Ctrl-C to quit)\n");
      }
      reply = await session.send(argv);
    } catch (e) {
      process.stderr.write(connectionMessage(session, e));
      return "failed";
    }
    if (reply.type === "error") sawError = true;
    if (STREAMING.has(name) && reply.type !== "error") {
      // Messages arrive as pushes (printed by the session) until Ctrl-C.
      session.streaming = true;
      await session.untilInterrupted();
      session.streaming = false;
      return "ok";
    }
    if (opts.interval && (repeat < 0 || i + 1 < repeat)) await sleep(opts.interval * 1000);
  }
  return sawError ? "error-reply" : "ok";
}

function connectionMessage(session: Session, e: unknown): string {
  if (e instanceof ConnectionError && /could not connect/.test(e.message)) {
    return `Could not connect to tidekv at ${redactUrl(session.url)}: ${e.message.replace(/^could not connect to \S+: /, "")}\n`;
  }
  return `Error: ${describeError(e)}\n`;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Runs `tidekv cli`; resolves with the exit status. */
export async function runCli(args: string[], opts: CliOptions): Promise<number> {
  const target = resolveTarget(opts);
  const session = new Session(target.url, opts, target.token);
  try {
    if (args.length === 0) return await repl(session, opts);
    const argv = args.map((a) => encoder.encode(a));
    if (opts.stdinLast) argv.push(await readStdin());
    if (opts.errorExit) {
      // -e: an error reply goes to stderr and the exit status is 1 (redis-cli's set_errcode).
      const reply = await session.client.callReply(argv).catch((e) => {
        process.stderr.write(connectionMessage(session, e));
        return null;
      });
      if (reply === null) return 1;
      if (reply.type === "error") {
        process.stderr.write(`${reply.value}\n`);
        return 1;
      }
      write(formatReply(reply, session.mode, printsVerbatim(args)));
      return 0;
    }
    const result = await issue(session, argv, opts, opts.repeat ?? 1);
    return result === "failed" ? 1 : 0;
  } finally {
    await session.close();
  }
}

// ---------------------------------------------------------------------------
// REPL

/** Commands never written to the history file (redis-cli's isSensitiveCommand). */
export function isSensitive(words: string[]): boolean {
  const argc = words.length;
  const w = words.map((x) => x.toLowerCase());
  if (w[0] === "auth") return true;
  if (argc > 1 && w[0] === "acl" && w[1] === "setuser") return true;
  if (argc > 2 && w[0] === "config" && w[1] === "set" && ["masterauth", "masteruser", "requirepass"].includes(w[2])) return true;
  if (argc > 4 && w[0] === "hello") {
    for (let j = 2; j < argc; j++) {
      const more = argc - 1 - j;
      if (w[j] === "auth" && more >= 2) return true;
      if (w[j] === "setname" && more) j++;
      else return false;
    }
  }
  if (argc > 7 && w[0] === "migrate") {
    for (let j = 6; j < argc; j++) {
      const more = argc - 1 - j;
      if (w[j] === "auth" && more) return true;
      if (w[j] === "auth2" && more >= 2) return true;
      if (w[j] === "keys" && more) return false;
    }
  }
  return false;
}

function historyPath(): string | undefined {
  const env = process.env.TIDEKV_HISTFILE;
  if (env !== undefined && env !== "") return env === "/dev/null" ? undefined : env;
  const home = homedir();
  return home ? join(home, ".tidekv_history") : undefined;
}

const HISTORY_MAX = 1000;

const HELP = `tidekv cli: type Redis commands, e.g. SET greeting hello
  "..." and '...' quote arguments ("\\x00" escapes work inside double quotes)
  N COMMAND ...   runs the command N times
  clear           clears the screen
  quit, exit      leaves (so does Ctrl-D)
`;

async function repl(session: Session, opts: CliOptions): Promise<number> {
  session.interactive = true;
  const tty = Boolean(process.stdin.isTTY);
  const file = tty ? historyPath() : undefined;
  let history: string[] = [];
  if (file) {
    try {
      history = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").slice(-HISTORY_MAX);
    } catch {
      // no history yet
    }
  }
  const saveHistory = () => {
    if (!file) return;
    try {
      writeFileSync(file, history.slice(-HISTORY_MAX).join("\n") + "\n", { mode: 0o600 });
    } catch {
      // an unwritable history file is not worth failing over
    }
  };

  // Connect up front like redis-cli; on failure say so and keep going ("not connected>").
  let connected = true;
  try {
    await session.client.ready();
  } catch (e) {
    connected = false;
    process.stderr.write(connectionMessage(session, e));
  }

  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: tty,
    history: [...history].reverse(),
    historySize: HISTORY_MAX,
    removeHistoryDuplicates: false,
  });
  // Ctrl-C ends a SUBSCRIBE/MONITOR stream (back to the prompt), else leaves.
  rl.on("SIGINT", () => {
    if (session.streaming) void session.interrupt();
    else rl.close();
  });
  const setPrompt = () => {
    rl.setPrompt(connected || session.client.isConnected ? session.prompt() : "not connected> ");
    if (tty) rl.prompt();
  };
  setPrompt();
  for await (const line of rl) {
    if (line.trim() !== "") {
      const argv = splitArgs(encoder.encode(line));
      if (argv === null) {
        write("Invalid argument(s)\n");
        history.push(line);
        saveHistory();
      } else if (argv.length > 0) {
        let words = argv.map((a) => decoder.decode(a));
        let repeat = 1;
        let args = argv;
        if (argv.length > 1 && /^[+-]?\d+$/.test(words[0])) {
          repeat = Number(words[0]);
          if (!Number.isSafeInteger(repeat) || repeat <= 0) {
            write("Invalid redis-cli repeat command option value.\n");
            setPrompt();
            continue;
          }
          args = argv.slice(1);
          words = words.slice(1);
        }
        if (!isSensitive(words)) {
          history.push(line);
          saveHistory();
        }
        const cmd = words[0].toLowerCase();
        if (cmd === "quit" || cmd === "exit") {
          rl.close();
          break;
        } else if (cmd === "help" || cmd === "?") {
          write(HELP);
        } else if (cmd === "clear" && words.length === 1) {
          write("\x1b[H\x1b[2J");
        } else {
          const start = Date.now();
          const result = await issue(session, args, opts, repeat);
          connected = result !== "failed";
          const elapsed = Date.now() - start;
          if (elapsed >= 500 && session.mode === "standard") write(`(${(elapsed / 1000).toFixed(2)}s)\n`);
        }
      }
    }
    setPrompt();
  }
  return 0;
}
