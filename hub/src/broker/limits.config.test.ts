// The limits' settings: read from the environment with their defaults, a bad value named.

import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.ts";
import { DEFAULT_MQTT_LIMITS } from "./limits.ts";

describe("the limits' settings", () => {
  it("default to DEFAULT_MQTT_LIMITS, the packet limit following the payload limit", () => {
    expect(loadConfig({}).mqttLimits).toEqual(DEFAULT_MQTT_LIMITS);
    expect(loadConfig({ LOCUS_MAX_PAYLOAD_BYTES: "1048576" }).mqttLimits.maxPacketBytes).toBe(
      1048576 + 65536,
    );
  });

  it("are read from the environment", () => {
    const limits = loadConfig({
      LOCUS_MQTT_MAX_CONNECTIONS: "10",
      LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS: "2",
      LOCUS_MQTT_CONNECT_TIMEOUT_MS: "500",
      LOCUS_MQTT_MAX_PACKET_BYTES: "300000",
      LOCUS_MQTT_CLIENT_MESSAGES_PER_S: "100",
      LOCUS_MQTT_CLIENT_BYTES_PER_S: "65536",
      LOCUS_MQTT_CLIENT_MAX_INFLIGHT: "16",
      LOCUS_MQTT_CLIENT_QUEUE_MESSAGES: "50",
      LOCUS_MQTT_CLIENT_QUEUE_BYTES: "1048576",
      LOCUS_MQTT_CLIENT_STALL_TIMEOUT_MS: "5000",
    }).mqttLimits;
    expect(limits).toEqual({
      maxConnections: 10,
      maxConnectionsPerAddress: 2,
      connectTimeoutMs: 500,
      maxPacketBytes: 300000,
      messagesPerSecond: 100,
      bytesPerSecond: 65536,
      maxInflight: 16,
      queueMessages: 50,
      queueBytes: 1048576,
      stallTimeoutMs: 5000,
    });
  });

  it.each([
    ["LOCUS_MQTT_MAX_CONNECTIONS", "0"],
    ["LOCUS_MQTT_MAX_CONNECTIONS_PER_ADDRESS", "many"],
    ["LOCUS_MQTT_CONNECT_TIMEOUT_MS", "1.5"],
    ["LOCUS_MQTT_CLIENT_MESSAGES_PER_S", "-1"],
    ["LOCUS_MQTT_CLIENT_MAX_INFLIGHT", "70000"],
    ["LOCUS_MQTT_CLIENT_QUEUE_BYTES", "10"],
  ])("refuse %s=%s, naming it", (setting, value) => {
    expect(() => loadConfig({ [setting]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [setting]: value })).toThrow(setting);
  });

  it("refuse a packet limit below the payload limit, saying why", () => {
    expect(() =>
      loadConfig({ LOCUS_MAX_PAYLOAD_BYTES: "300000", LOCUS_MQTT_MAX_PACKET_BYTES: "200000" }),
    ).toThrow(/LOCUS_MQTT_MAX_PACKET_BYTES: 200000 is below LOCUS_MAX_PAYLOAD_BYTES/);
  });
});
