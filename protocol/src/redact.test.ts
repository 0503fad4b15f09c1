// URL redaction: the password goes, whatever the URL's form; the rest stays as written.

import { describe, expect, it } from "vitest";
import { redactUrl } from "./redact.ts";

describe("redactUrl", () => {
  it.each([
    ["mqtt://hub:secret@broker:1883", "mqtt://hub:***@broker:1883"],
    ["mqtts://u:p%40ss@broker:8883", "mqtts://u:***@broker:8883"],
    ["ws://u:p@broker:9001", "ws://u:***@broker:9001"],
    ["wss://u:p@broker/mqtt", "wss://u:***@broker/mqtt"],
    ["postgres://locus:pw@db:5432/locus", "postgres://locus:***@db:5432/locus"],
    ["postgres://db/locus?user=locus&password=pw", "postgres://db/locus?user=locus&password=***"],
    ["http://u:p@h/", "http://u:***@h/"],
  ])("hides the password of %s", (raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
  });

  it.each([
    "mqtt://broker:1883",
    "mqtt://user@broker:1883",
    "ws://broker:9001",
    "postgres://db/locus?sslmode=require",
  ])("leaves %s as written", (raw) => {
    expect(redactUrl(raw)).toBe(raw);
  });

  it("hides the password of a URL it cannot parse", () => {
    expect(redactUrl("postgres://u:p@ss@db:99999/x")).toBe("postgres://u:***@db:99999/x");
    expect(redactUrl("mqtt://u:secret@[bad/x")).toBe("mqtt://u:***@[bad/x");
    expect(redactUrl("not a url")).toBe("not a url");
  });
});
