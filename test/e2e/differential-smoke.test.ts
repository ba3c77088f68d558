/**
 * Proves the differential framework (test/support/differential.ts) on a few
 * basic commands, in RESP2 and RESP3. Command groups add their own scripts.
 */
import { describe, expect, it } from "vitest";
import { parseScript, runDifferential, useDifferentialServers, type Step } from "../support/differential.ts";

describe("differential smoke", () => {
  useDifferentialServers();

  const basics: Step[] = [
    { cmd: ["PING"] },
    { cmd: ["PING", "hello"] },
    { cmd: ["ECHO", "x"] },
    { cmd: ["SET", "a", "1"] },
    { cmd: ["GET", "a"] },
    { cmd: ["INCR", "a"] },
    { cmd: ["GET", "missing"] },
    { cmd: ["DEL", "a"] },
    { cmd: ["GET"] }, // wrong arity
    { cmd: ["FOO", "bar"] }, // unknown command
  ];

  it("basics (steps), RESP2 and RESP3", async () => {
    await runDifferential("smoke-basics", basics, { protocols: [2, 3] });
  });

  it("basics (text script), RESP2 and RESP3", async () => {
    const script = parseScript(
      `
      # the same basics, in the text format
      PING
      PING hello
      ECHO "x"
      SET a 1
      GET a
      INCR a
      GET missing
      DEL a
      GET
      FOO bar
      ECHO only-the-type-is-compared ~type
      `,
      "smoke",
    );
    expect(script).toHaveLength(11);
    await runDifferential("smoke-text", script, { protocols: [2, 3] });
  });
});

describe("differential script parser", () => {
  it("splits like redis-cli and reads compare markers", () => {
    const steps = parseScript(
      [
        "# comment",
        "",
        `SET "a b" 'c\\'d'   # not a comment: these are arguments`,
        `SET bin "\\x00\\xff\\r\\n" ~ignore`,
        `ECHO "~type"`,
        `SMEMBERS s ~unordered`,
      ].join("\n"),
      "t",
    );
    expect(steps[0]).toEqual({ cmd: ["SET", "a b", "c'd", "#", "not", "a", "comment:", "these", "are", "arguments"], source: "t:3" });
    expect(steps[1].compare).toBe("ignore");
    expect(steps[1].cmd[2]).toEqual(Uint8Array.from([0, 0xff, 13, 10]));
    expect(steps[2]).toEqual({ cmd: ["ECHO", "~type"], source: "t:5" });
    expect(steps[3].compare).toBe("unordered");
    expect(() => parseScript(`SET "a"b c`)).toThrow(/closing quote/);
    expect(() => parseScript(`GET k ~nope`)).toThrow(/unknown compare marker/);
  });
});
