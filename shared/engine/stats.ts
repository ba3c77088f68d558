/** Counters behind INFO stats, INFO commandstats and INFO errorstats. */
export interface CommandStat {
  calls: number;
  usec: number;
  rejectedCalls: number;
  failedCalls: number;
}

export class Stats {
  totalConnections = 0;
  totalCommands = 0;
  expiredKeys = 0;
  dirty = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  rejectedCalls = 0;
  failedCalls = 0;
  totalErrorReplies = 0;
  /**
   * SAVE/BGSAVE bookkeeping for LASTSAVE and INFO persistence. tidekv has no
   * snapshot to write (every acknowledged write is already committed to
   * SQLite), so a "save" only moves these markers.
   */
  rdbSaves = 0;
  /** Unix time (s) of the last SAVE/BGSAVE; null until one ran (then: the engine's start). */
  lastSaveTime: number | null = null;
  /** `dirty` at the last save: INFO's rdb_changes_since_last_save is the difference. */
  dirtyAtLastSave = 0;
  readonly commands = new Map<string, CommandStat>();
  /** Error prefix ("ERR", "WRONGTYPE") -> count. */
  readonly errors = new Map<string, number>();

  recordCall(fullName: string, ms: number, failed: boolean): void {
    this.totalCommands++;
    const stat = this.commandStat(fullName);
    stat.calls++;
    stat.usec += Math.round(ms * 1000);
    if (failed) {
      stat.failedCalls++;
      this.failedCalls++;
    }
  }

  /** A command rejected before it ran (unknown, arity, auth, cluster redirection). */
  recordRejection(fullName: string | null, message: string): void {
    if (fullName) this.commandStat(fullName).rejectedCalls++;
    this.rejectedCalls++;
    this.recordError(message);
  }

  recordError(message: string): void {
    this.totalErrorReplies++;
    const space = message.indexOf(" ");
    const prefix = space === -1 ? message : message.slice(0, space);
    this.errors.set(prefix, (this.errors.get(prefix) ?? 0) + 1);
  }

  /** A SAVE/BGSAVE completed at `nowMs`. */
  markSaved(nowMs: number): void {
    this.rdbSaves++;
    this.lastSaveTime = Math.floor(nowMs / 1000);
    this.dirtyAtLastSave = this.dirty;
  }

  /** CONFIG RESETSTAT (Redis's resetServerStats + command and error tables). */
  reset(): void {
    this.rdbSaves = 0;
    this.totalConnections = 0;
    this.totalCommands = 0;
    this.expiredKeys = 0;
    this.netInputBytes = 0;
    this.netOutputBytes = 0;
    this.rejectedCalls = 0;
    this.failedCalls = 0;
    this.totalErrorReplies = 0;
    this.commands.clear();
    this.errors.clear();
  }

  private commandStat(fullName: string): CommandStat {
    let stat = this.commands.get(fullName);
    if (!stat) this.commands.set(fullName, (stat = { calls: 0, usec: 0, rejectedCalls: 0, failedCalls: 0 }));
    return stat;
  }
}
