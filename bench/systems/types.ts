import type { Endpoint } from "../lib/connection.ts";

/** One thing the load generator talks to. */
export interface System {
  /** "tidekv", "ceiling", "redis". */
  id: string;
  description: string;
  endpoint: Endpoint;
}

/** A running process that serves one or more systems; stopped by its own handle. */
export interface Host {
  readonly label: string;
  readonly systems: System[];
  stop(): Promise<void>;
}
