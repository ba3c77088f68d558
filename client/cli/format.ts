/**
 * Replies printed exactly as redis-cli 7 prints them (redis-cli.c:
 * cliFormatReplyTTY, cliFormatReplyRaw, sdscatrepr), as bytes, so binary
 * values come out untouched in raw mode.
 *
 * - "standard" (a TTY, or --no-raw): `(integer) 1`, `"a"`, `(nil)`,
 *   `1) "a"` with nested indentation, `(error) ERR ...`, `(empty array)`,
 *   RESP3 `(double) 1.5`, `(true)`, `1# "k" => "v"`, `1~ "m"`.
 * - "raw" (stdout not a TTY, or --raw): values only, one per line.
 */
import type { Reply } from "../../shared/resp/index.ts";
import { concat } from "../../shared/util/bytes.ts";
import { formatDouble } from "../../shared/util/numbers.ts";

export type OutputMode = "standard" | "raw";

const encoder = new TextEncoder();

class Out {
  private chunks: Uint8Array[] = [];
  private size = 0;
  text(s: string): void {
    this.bytes(encoder.encode(s));
  }
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  /** Drops the last byte (sdsrange(out, 0, -2)). */
  dropLast(): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i];
      if (c.length === 0) continue;
      this.chunks[i] = c.subarray(0, c.length - 1);
      this.size--;
      return;
    }
  }
  result(): Uint8Array {
    return concat(this.chunks, this.size);
  }
}

/** sdscatrepr: a quoted, escaped rendering of bytes. */
export function repr(value: Uint8Array): string {
  let s = '"';
  for (const c of value) {
    switch (c) {
      case 0x5c:
        s += "\\\\";
        break;
      case 0x22:
        s += '\\"';
        break;
      case 0x0a:
        s += "\\n";
        break;
      case 0x0d:
        s += "\\r";
        break;
      case 0x09:
        s += "\\t";
        break;
      case 0x07:
        s += "\\a";
        break;
      case 0x08:
        s += "\\b";
        break;
      default:
        s += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
    }
  }
  return s + '"';
}

function isMultiline(r: Reply): boolean {
  switch (r.type) {
    case "array":
    case "set":
    case "push":
      if (r.value.length === 0) return false;
      if (r.value.length > 1) return true;
      return isMultiline(r.value[0]);
    case "map":
      if (r.value.length === 0) return false;
      if (r.value.length > 1) return true;
      return isMultiline(r.value[0][1]);
    default:
      return false;
  }
}

function tty(r: Reply, prefix: string, out: Out): void {
  switch (r.type) {
    case "error":
      out.text(`(error) ${r.value}\n`);
      return;
    case "simple":
      out.text(`${r.value}\n`);
      return;
    case "integer":
      out.text(`(integer) ${r.value}\n`);
      return;
    case "double":
      out.text(`(double) ${formatDouble(r.value)}\n`);
      return;
    case "bulk":
      out.text(`${repr(r.value)}\n`);
      return;
    case "verbatim":
      out.bytes(r.value);
      out.text("\n");
      return;
    case "null":
    case "nullarray":
      out.text("(nil)\n");
      return;
    case "boolean":
      out.text(r.value ? "(true)\n" : "(false)\n");
      return;
    case "bignum":
      out.text(`(big number) ${r.value}\n`);
      return;
    case "array":
    case "set":
    case "push":
    case "map": {
      const count = r.value.length;
      if (count === 0) {
        out.text(
          r.type === "array" ? "(empty array)\n" : r.type === "map" ? "(empty hash)\n" : r.type === "set" ? "(empty set)\n" : "(empty push)\n",
        );
        return;
      }
      const idxlen = String(count).length;
      const inner = prefix + " ".repeat(idxlen + 2);
      const sep = r.type === "set" ? "~" : r.type === "map" ? "#" : ")";
      for (let i = 0; i < count; i++) {
        out.text(`${i === 0 ? "" : prefix}${String(i + 1).padStart(idxlen)}${sep} `);
        if (r.type === "map") {
          const [k, v] = r.value[i];
          tty(k, inner, out);
          out.dropLast();
          out.text(" => ");
          if (isMultiline(v)) out.text(`\n${inner}`);
          tty(v, inner, out);
        } else {
          tty(r.value[i], inner, out);
        }
      }
      return;
    }
  }
}

function raw(r: Reply, out: Out): void {
  switch (r.type) {
    case "null":
    case "nullarray":
      return;
    case "error":
      out.text(`${r.value}\n`);
      return;
    case "simple":
      out.text(r.value);
      return;
    case "bulk":
    case "verbatim":
      out.bytes(r.value);
      return;
    case "boolean":
      out.text(r.value ? "(true)" : "(false)");
      return;
    case "integer":
    case "bignum":
      out.text(String(r.value));
      return;
    case "double":
      out.text(formatDouble(r.value));
      return;
    case "array":
    case "set":
    case "push":
      r.value.forEach((item, i) => {
        if (i > 0) out.text("\n");
        raw(item, out);
      });
      return;
    case "map":
      r.value.forEach(([k, v], i) => {
        if (i > 0) out.text("\n");
        raw(k, out);
        out.text(" ");
        raw(v, out);
      });
      return;
  }
}

/**
 * One reply as redis-cli prints it. `verbatim` is redis-cli's output_raw for
 * INFO, CLIENT LIST and the like: the raw text with no trailing newline.
 */
export function formatReply(reply: Reply, mode: OutputMode, verbatim = false): Uint8Array {
  const out = new Out();
  if (verbatim) raw(reply, out);
  else if (mode === "standard") tty(reply, "", out);
  else {
    raw(reply, out);
    out.text("\n");
  }
  return out.result();
}

/** Commands whose replies redis-cli always prints raw (cliSendCommand's output_raw). */
export function printsVerbatim(argv: readonly string[]): boolean {
  const argc = argv.length;
  const cmd = argv[0]?.toLowerCase() ?? "";
  const sub = argv[1]?.toLowerCase() ?? "";
  return (
    cmd === "info" ||
    cmd === "lolwut" ||
    (argc >= 2 && cmd === "debug" && (sub === "htstats" || sub === "htstats-key" || sub === "client-eviction")) ||
    (argc >= 2 && cmd === "memory" && (sub === "malloc-stats" || sub === "doctor")) ||
    (argc === 2 && cmd === "cluster" && (sub === "nodes" || sub === "info")) ||
    (argc >= 2 && cmd === "client" && (sub === "list" || sub === "info")) ||
    (argc === 3 && cmd === "latency" && sub === "graph") ||
    (argc === 2 && cmd === "latency" && sub === "doctor") ||
    (argc >= 2 && cmd === "proxy" && sub === "info")
  );
}
