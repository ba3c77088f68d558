/**
 * The suites `npm run bench` can run (selected with --workloads like the
 * workloads, after them, in this order). Add new ones here.
 */
import { bridgeSuite } from "./bridge.ts";
import { collectionsSuite } from "./collections.ts";
import { httpSuite } from "./http.ts";
import { proxySuite } from "./proxy.ts";
import { replicationSuite } from "./replication.ts";
import { reshardingSuite } from "./resharding.ts";
import type { Suite, SuiteResult } from "./types.ts";

export const suites: Suite[] = [collectionsSuite, replicationSuite, proxySuite, bridgeSuite, httpSuite, reshardingSuite];

/** The suites' sections, after the workloads' tables. */
export function renderSuites(results: SuiteResult[], format: "text" | "markdown"): string {
  return results.map((r) => `\n${format === "text" ? r.text : r.markdown}\n`).join("");
}
