/** Small helpers the suites share: one-off commands, INFO parsing, tables. */
import { encodeCommand, encodeReply, type Reply } from "../../shared/resp/index.ts";
import { frameOf } from "../lib/data.ts";
import { LoadConnection, type Endpoint } from "../lib/connection.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const decoder = new TextDecoder();

/** A reply's text (simple, bulk, verbatim), or its JSON-ish description for anything else. */
export function replyText(r: Reply): string {
  if (r.type === "simple" || r.type === "error") return r.value;
  if (r.type === "bulk") return decoder.decode(r.value);
  if (r.type === "integer") return String(r.value);
  return r.type;
}

/** A control connection: one command at a time, replies returned (never used for measuring). */
export class Control {
  private constructor(readonly conn: LoadConnection) {}

  static async open(endpoint: Endpoint): Promise<Control> {
    return new Control(await LoadConnection.open(endpoint));
  }

  /** Sends one command and returns its reply; throws on an error reply unless `allowError`. */
  async call(argv: (string | Uint8Array)[], allowError = false): Promise<Reply> {
    const [reply] = await this.conn.request(encodeCommand(argv), 1);
    if (reply.type === "error" && !allowError) throw new Error(`${String(argv[0])}: ${reply.value}`);
    return reply;
  }

  async int(argv: (string | Uint8Array)[]): Promise<number> {
    const r = await this.call(argv);
    if (r.type !== "integer") throw new Error(`${String(argv[0])}: expected an integer, got ${r.type}`);
    return Number(r.value);
  }

  /** INFO <section> as name -> value, and the reply's size in bytes on the wire (RESP2). */
  async info(section: string): Promise<Info> {
    const reply = await this.call(["INFO", section]);
    return new Info(replyText(reply), encodeReply(reply, 2).length);
  }

  /** Sends batches of encoded commands, one write per batch, each awaited; throws on the first error reply. */
  async pipeline(batches: Iterable<Uint8Array[]>, onBatch?: (commands: number) => void): Promise<void> {
    let done = 0;
    for (const batch of batches) {
      const replies = await this.conn.request(frameOf(batch), batch.length);
      for (const r of replies) if (r.type === "error") throw new Error(r.value);
      done += batch.length;
      onBatch?.(done);
    }
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

export class Info {
  readonly fields = new Map<string, string>();

  constructor(
    readonly text: string,
    /** Bytes of the reply on the wire: what the server's total_net_output_bytes counted for it. */
    readonly replyBytes: number,
  ) {
    for (const line of text.split("\r\n")) {
      const at = line.indexOf(":");
      if (at > 0 && !line.startsWith("#")) this.fields.set(line.slice(0, at), line.slice(at + 1));
    }
  }

  get(name: string): string | undefined {
    return this.fields.get(name);
  }

  /** A numeric field; NaN when absent. */
  num(name: string): number {
    const v = this.fields.get(name);
    return v === undefined ? NaN : Number(v);
  }
}

/** INFO commandstats: calls and total µs per command name (lower case, subcommands as `a|b`). */
export type CommandStats = Map<string, { calls: number; usec: number }>;

export async function commandStats(control: Control): Promise<CommandStats> {
  const info = await control.info("commandstats");
  const out: CommandStats = new Map();
  for (const [name, value] of info.fields) {
    if (!name.startsWith("cmdstat_")) continue;
    const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? NaN);
    const usec = Number(/usec=(\d+)/.exec(value)?.[1] ?? NaN);
    out.set(name.slice("cmdstat_".length), { calls, usec });
  }
  return out;
}

/** Per command: calls and µs per call between two INFO commandstats samples. */
export function statsDelta(before: CommandStats, after: CommandStats, names: readonly string[]): Record<string, { calls: number; usecPerCall: number }> {
  const out: Record<string, { calls: number; usecPerCall: number }> = {};
  for (const name of names) {
    const a = after.get(name);
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    if (!a) continue;
    const calls = a.calls - b.calls;
    out[name] = { calls, usecPerCall: calls > 0 ? (a.usec - b.usec) / calls : NaN };
  }
  return out;
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// Formatting

export const fmtInt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : Math.round(n).toLocaleString("en-US"));
export const fmtMs = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? "-" : n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US");
export const fmtX = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : `${n < 10 ? n.toFixed(2) : n.toFixed(1)}x`);
export const fmtBytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
export const verdict = (pass: boolean | undefined) => (pass === undefined ? "n/a" : pass ? "PASS" : "MISS");

/** A table rendered both for the terminal and as Markdown. `right[i]` right-aligns column i. */
export function table(head: string[], rows: string[][], right: boolean[]): { text: string; markdown: string } {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const text = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
  const md = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  const markdown = [md(head), `| ${right.map((r) => (r ? "---:" : "---")).join(" | ")} |`, ...rows.map(md)].join("\n");
  return { text, markdown };
}
