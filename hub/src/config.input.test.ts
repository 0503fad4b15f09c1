// The settings for bad input and retention: defaults, accepted values, and a ConfigError naming
// the setting for a bad one.

import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

describe("LOCUS_MAX_FUTURE_S", () => {
  it("defaults to 600 s and takes whole seconds", () => {
    expect(loadConfig({}).maxFutureMs).toBe(600_000);
    expect(loadConfig({ LOCUS_MAX_FUTURE_S: "30" }).maxFutureMs).toBe(30_000);
  });

  it.each(["-1", "1.5", "soon", "99999999999"])("refuses %s naming the setting", (value) => {
    expect(() => loadConfig({ LOCUS_MAX_FUTURE_S: value })).toThrow(ConfigError);
    expect(() => loadConfig({ LOCUS_MAX_FUTURE_S: value })).toThrow(/^LOCUS_MAX_FUTURE_S: /);
  });
});

describe("LOCUS_RETENTION_DAYS", () => {
  it("is off by default and takes days, fractions included", () => {
    expect(loadConfig({}).retentionMs).toBeNull();
    expect(loadConfig({ LOCUS_RETENTION_DAYS: "30" }).retentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ LOCUS_RETENTION_DAYS: "0.5" }).retentionMs).toBe(43_200_000);
  });

  it.each(["0", "-3", "forever"])("refuses %s naming the setting", (value) => {
    expect(() => loadConfig({ LOCUS_RETENTION_DAYS: value })).toThrow(/^LOCUS_RETENTION_DAYS: /);
  });
});
