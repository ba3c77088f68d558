import { describe, expect, it } from "vitest";
import { baseUrl, nodeNameOf, nodeUrl, normalizeUrl, redactUrl, respUrl, withToken } from "../../../client/src/url.ts";
import { promptLabel, resolveTarget } from "../../../client/cli/target.ts";

describe("URLs", () => {
  it("normalizes what users type", () => {
    expect(normalizeUrl("127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/resp");
    expect(normalizeUrl("http://127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/resp");
    expect(normalizeUrl("https://kv.example.com/")).toBe("wss://kv.example.com/resp");
    expect(normalizeUrl("ws://h:1/node/a")).toBe("ws://h:1/node/a");
    expect(() => normalizeUrl("redis://h:6379")).toThrow(/unsupported URL scheme redis:/);
  });

  it("node and /resp URLs keep the base path and the token", () => {
    expect(nodeUrl("ws://h:1/resp", "b")).toBe("ws://h:1/node/b");
    expect(nodeUrl("wss://h/prefix/node/a?token=t", "b c")).toBe("wss://h/prefix/node/b%20c?token=t");
    expect(respUrl("ws://h:1/node/a")).toBe("ws://h:1/resp");
    expect(baseUrl("ws://h:1/x/resp").pathname).toBe("/x");
    expect(nodeNameOf("ws://h/node/b%20c")).toBe("b c");
    expect(nodeNameOf("ws://h/resp")).toBeUndefined();
  });

  it("tokens go on the URL and are redacted in messages", () => {
    const url = withToken("ws://h:1/resp", "s3cret");
    expect(url).toBe("ws://h:1/resp?token=s3cret");
    expect(redactUrl(url)).toBe("ws://h:1/resp?token=***");
    expect(withToken("ws://h:1/resp", undefined)).toBe("ws://h:1/resp");
  });

  it("CLI targets and prompts", () => {
    expect(resolveTarget({ url: "127.0.0.1:9000", node: "n1", token: "t" })).toEqual({ url: "ws://127.0.0.1:9000/node/n1", token: "t" });
    expect(promptLabel("ws://127.0.0.1:8787/resp")).toBe("127.0.0.1:8787");
    expect(promptLabel("ws://127.0.0.1:8787/node/n1")).toBe("n1");
    expect(promptLabel("wss://kv.example.com/resp")).toBe("kv.example.com:443");
  });
});
