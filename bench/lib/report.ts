/** Results: the record written to bench/results/latest.json, and its text and Markdown renderings. */
import type { LoadResult } from "./load.ts";
import type { StorageResult } from "../storage.ts";
import type { Target } from "../workloads/types.ts";

export interface RunRecord {
  workload: string;
  title: string;
  connections: number;
  pipeline: number;
  system: string;
  result?: LoadResult;
  error?: string;
}

export interface RatioRecord {
  workload: string;
  title: string;
  /** What the ratio is taken on: p50 latency (tidekv / other; lower is better) or throughput (higher is better). */
  metric: "p50" | "ops";
  vsCeiling?: number;
  /** Against the ceiling that also commits one write per frame (what durability costs by itself). */
  vsDurableCeiling?: number;
  vsRedis?: number;
  target?: Target & { pass?: boolean };
}

export interface BenchResults {
  startedAt: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  systems: { id: string; description: string }[];
  runs: RunRecord[];
  ratios: RatioRecord[];
  storage?: StorageResult;
  storageError?: string;
  errors: string[];
}

export function computeRatios(
  runs: RunRecord[],
  workloads: { id: string; title: string; compare: "p50" | "ops"; target?: Target }[],
): RatioRecord[] {
  return workloads.map((w) => {
    const of = (system: string) => runs.find((r) => r.workload === w.id && r.system === system)?.result;
    const pick = (r: LoadResult | undefined) => (r ? (w.compare === "p50" ? r.p50 : r.opsPerSec) : undefined);
    const ratio = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined;
    const tidekv = of("tidekv");
    // A run with error replies measured something else than GET/SET: no ratio.
    const clean = tidekv && tidekv.errors === 0 ? tidekv : undefined;
    const vsCeiling = ratio(pick(clean), pick(of("ceiling")));
    const vsRedis = ratio(pick(clean), pick(of("redis")));
    const vsDurableCeiling = ratio(pick(clean), pick(of("ceiling-durable")));
    let target: RatioRecord["target"];
    if (w.target) {
      const pass =
        vsCeiling === undefined ? undefined : w.target.kind === "at most" ? vsCeiling <= w.target.ratio : vsCeiling >= w.target.ratio;
      target = { ...w.target, pass };
    }
    return { workload: w.id, title: w.title, metric: w.compare, vsCeiling, vsDurableCeiling, vsRedis, target };
  });
}

// ---------------------------------------------------------------------------
// Formatting

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isFinite(n) ? (n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-");
const times = (n: number | undefined) => (n === undefined ? "-" : `${n < 10 ? n.toFixed(2) : n.toFixed(1)}x`);
const verdict = (t: RatioRecord["target"]) => (!t ? "" : t.pass === undefined ? "n/a" : t.pass ? "PASS" : "MISS");
const bytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

function runCells(r: RunRecord): string[] {
  if (!r.result) return [r.system, "failed", "-", "-", (r.error ?? "").slice(0, 60)];
  const x = r.result;
  const err = x.errors ? `${int(x.errors)} (${(x.firstError ?? "").slice(0, 40)})` : "0";
  return [r.system, int(x.opsPerSec), ms(x.p50), ms(x.p99), err];
}

function ratioCells(x: RatioRecord): string[] {
  return [
    `(${x.workload})`,
    x.metric === "p50" ? "p50 latency" : "throughput",
    times(x.vsCeiling),
    x.target?.text ?? "",
    verdict(x.target),
    times(x.vsDurableCeiling),
    times(x.vsRedis),
  ];
}

function storageLine(s: StorageResult | undefined, error: string | undefined): string {
  if (error) return `SQLite bytes per key: not measured (${error})`;
  if (!s) return "SQLite bytes per key: not measured (skipped)";
  const basis = s.afterStop ?? s.live;
  const db = (f: { logical?: { bytes: number } }) => (f.logical ? bytes(f.logical.bytes) : "?");
  return (
    `SQLite bytes per key (${int(s.keys)} keys, ${s.valueSize}-byte values): ${s.bytesPerKey.toFixed(1)}\n` +
    `  node database ${db(basis.loaded)} loaded vs ${db(basis.empty)} empty (pages x page size); ` +
    `on disk ${bytes(basis.loaded.db)} + ${bytes(basis.loaded.wal)} WAL = ${s.bytesPerKeyOnDisk.toFixed(1)} bytes/key; ` +
    `load took ${s.loadSeconds.toFixed(1)} s`
  );
}

function textTable(head: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function renderText(res: BenchResults): string {
  const out: string[] = [];
  out.push(
    `tidekv benchmark  ${res.startedAt}  (${res.settings.seconds} s per run after ${res.settings.warmup} s warmup; ` +
      `${int(res.settings.keys as number)} keys, ${res.settings.valueSize}-byte values)`,
    "",
  );
  const rows: string[][] = [];
  let last = "";
  for (const r of res.runs) {
    const label = r.workload === last ? "" : `(${r.workload}) ${r.title}`;
    last = r.workload;
    rows.push([label, ...runCells(r)]);
  }
  out.push(textTable(["workload", "system", "ops/s", "p50 ms", "p99 ms", "errors"], rows, [false, false, true, true, true, false]), "");
  out.push(
    textTable(
      ["", "compared on", "tidekv/ceiling", "target", "result", "tidekv/durable ceiling", "tidekv/redis"],
      res.ratios.map(ratioCells),
      [false, false, true, false, false, true, true],
    ),
    "",
  );
  out.push(storageLine(res.storage, res.storageError));
  if (res.errors.length) out.push("", "Errors:", ...res.errors.map((e) => `  ${e}`));
  return out.join("\n");
}

export function renderMarkdown(res: BenchResults): string {
  const md = (head: string[], rows: string[][], align: string[]) =>
    [`| ${head.join(" | ")} |`, `| ${align.join(" | ")} |`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`)].join("\n");
  const out: string[] = [];
  out.push(
    "# tidekv benchmark",
    "",
    `${res.startedAt}: ${res.settings.seconds} s per run after ${res.settings.warmup} s warmup; ` +
      `${int(res.settings.keys as number)} keys, ${res.settings.valueSize}-byte values. ` +
      `Machine: ${res.machine.cpuModel} (${res.machine.cpus} CPUs), Node ${res.machine.node}. See bench/README.md.`,
    "",
    "## Systems",
    "",
    ...res.systems.map((s) => `- **${s.id}**: ${s.description}`),
    "",
    "## Runs",
    "",
    md(
      ["workload", "system", "ops/s", "p50 ms", "p99 ms", "errors"],
      res.runs.map((r) => [`(${r.workload}) ${r.title}`, ...runCells(r)]),
      ["---", "---", "---:", "---:", "---:", "---"],
    ),
    "",
    "## Ratios (tidekv / other)",
    "",
    md(
      ["workload", "compared on", "tidekv/ceiling", "target", "result", "tidekv/durable ceiling", "tidekv/redis"],
      res.ratios.map(ratioCells),
      ["---", "---", "---:", "---", "---", "---:", "---:"],
    ),
    "",
    "## Storage",
    "",
    storageLine(res.storage, res.storageError),
    "",
  );
  if (res.errors.length) out.push("## Errors", "", ...res.errors.map((e) => `- ${e}`), "");
  return out.join("\n");
}
