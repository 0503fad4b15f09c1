// LOCUS_MQTT_ALLOW_ANONYMOUS and the retained-message limits: defaults and bad values.

import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

describe("LOCUS_MQTT_ALLOW_ANONYMOUS", () => {
  it.each([
    [undefined, true],
    ["127.0.0.1", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["192.168.1.10", false],
  ])("defaults for LOCUS_MQTT_HOST=%s to %s", (host, expected) => {
    expect(
      loadConfig(host === undefined ? {} : { LOCUS_MQTT_HOST: host }).mqtt.allowAnonymous,
    ).toBe(expected);
  });

  it("defaults to false with an external broker, where no embedded broker listens", () => {
    expect(loadConfig({ LOCUS_MQTT_URL: "mqtt://127.0.0.1:1883" }).mqtt.allowAnonymous).toBe(false);
  });

  it("takes true or false whatever the host", () => {
    expect(
      loadConfig({ LOCUS_MQTT_HOST: "0.0.0.0", LOCUS_MQTT_ALLOW_ANONYMOUS: "true" }).mqtt
        .allowAnonymous,
    ).toBe(true);
    expect(loadConfig({ LOCUS_MQTT_ALLOW_ANONYMOUS: "false" }).mqtt.allowAnonymous).toBe(false);
  });

  it("names the setting for anything else", () => {
    expect(() => loadConfig({ LOCUS_MQTT_ALLOW_ANONYMOUS: "yes" })).toThrow(ConfigError);
    expect(() => loadConfig({ LOCUS_MQTT_ALLOW_ANONYMOUS: "yes" })).toThrow(
      /^LOCUS_MQTT_ALLOW_ANONYMOUS: "yes" is not true or false$/,
    );
  });
});

describe("retained-message limits", () => {
  it("default to 100,000 messages and 64 MiB", () => {
    const { mqtt } = loadConfig({});
    expect([mqtt.maxRetainedMessages, mqtt.maxRetainedBytes]).toEqual([100_000, 64 * 1024 * 1024]);
  });

  it("take whole numbers and name the setting for anything else", () => {
    expect(loadConfig({ LOCUS_MQTT_MAX_RETAINED: "10" }).mqtt.maxRetainedMessages).toBe(10);
    expect(() => loadConfig({ LOCUS_MQTT_MAX_RETAINED: "1.5" })).toThrow(/LOCUS_MQTT_MAX_RETAINED/);
    expect(() => loadConfig({ LOCUS_MQTT_MAX_RETAINED_BYTES: "-1" })).toThrow(
      /LOCUS_MQTT_MAX_RETAINED_BYTES/,
    );
  });
});
