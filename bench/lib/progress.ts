/**
 * Progress on stderr: a cli-progress bar on a terminal, plain lines otherwise
 * (CI logs, pipes). The bar counts tasks (preloads, runs, the storage load);
 * the current task moves it fractionally.
 */
import cliProgress from "cli-progress";

export class Progress {
  private readonly multibar: cliProgress.MultiBar | undefined;
  private readonly bar: cliProgress.SingleBar | undefined;
  private done = 0;
  private task = "";

  constructor(private readonly tasks: number) {
    if (process.stderr.isTTY) {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: " {bar} {percentage}% | {task} | {detail}",
          barsize: 28,
          hideCursor: true,
          clearOnComplete: true,
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multibar.create(tasks * 1000, 0, { task: "starting", detail: "" });
    }
  }

  /** Starts the next task. */
  start(task: string, detail = ""): void {
    this.task = task;
    if (this.bar) this.bar.update(this.done * 1000, { task, detail });
    else process.stderr.write(`[bench ${this.done + 1}/${this.tasks}] ${task}${detail ? ` ${detail}` : ""}\n`);
  }

  /** Moves within the current task (fraction 0..1). */
  update(fraction: number, detail: string): void {
    this.bar?.update(Math.round((this.done + Math.min(1, Math.max(0, fraction))) * 1000), { task: this.task, detail });
  }

  /** Ends the current task; `line` is printed above the bar (or as a plain line). */
  finish(line?: string): void {
    this.done++;
    if (line) this.log(line);
    this.bar?.update(this.done * 1000, { task: this.task, detail: "" });
  }

  log(line: string): void {
    if (this.multibar) this.multibar.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  stop(): void {
    this.multibar?.stop();
  }
}
