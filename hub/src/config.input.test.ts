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

describe("LOCUS_CROSSING_MAX_GAP_S", () => {
  it("defaults to 600 s and takes seconds up to a day", () => {
    expect(loadConfig({}).crossingMaxGapMs).toBe(600_000);
    expect(loadConfig({ LOCUS_CROSSING_MAX_GAP_S: "90.5" }).crossingMaxGapMs).toBe(90_500);
    expect(loadConfig({ LOCUS_CROSSING_MAX_GAP_S: "0" }).crossingMaxGapMs).toBe(0);
  });

  it.each(["-1", "86401", "long"])("refuses %s naming the setting", (value) => {
    expect(() => loadConfig({ LOCUS_CROSSING_MAX_GAP_S: value })).toThrow(
      /^LOCUS_CROSSING_MAX_GAP_S: /,
    );
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

describe("LOCUS_STREAM_*", () => {
  it("defaults to 1000 clients, 10 s to authenticate, 1 MiB and 30 s before a client is too slow", () => {
    expect(loadConfig({}).stream).toEqual({
      maxClients: 1000,
      authTimeoutMs: 10_000,
      highWaterBytes: 1024 * 1024,
      stallTimeoutMs: 30_000,
    });
  });

  it("takes other values, 0 clients (no stream) included", () => {
    const { stream } = loadConfig({
      LOCUS_STREAM_MAX_CLIENTS: "0",
      LOCUS_STREAM_AUTH_TIMEOUT_MS: "500",
      LOCUS_STREAM_HIGH_WATER_BYTES: "65536",
      LOCUS_STREAM_STALL_TIMEOUT_MS: "2000",
    });
    expect(stream).toEqual({
      maxClients: 0,
      authTimeoutMs: 500,
      highWaterBytes: 65536,
      stallTimeoutMs: 2000,
    });
  });

  it.each([
    ["LOCUS_STREAM_MAX_CLIENTS", "-1"],
    ["LOCUS_STREAM_MAX_CLIENTS", "many"],
    ["LOCUS_STREAM_MAX_CLIENTS", "2.5"],
    ["LOCUS_STREAM_AUTH_TIMEOUT_MS", "10"],
    ["LOCUS_STREAM_HIGH_WATER_BYTES", "1e12"],
    ["LOCUS_STREAM_STALL_TIMEOUT_MS", "0"],
  ])("refuses %s=%s naming the setting", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});

describe("LOCUS_WEBHOOK_*", () => {
  it("defaults to the contract's timings, private addresses refused", () => {
    expect(loadConfig({}).webhooks).toMatchObject({
      allowPrivate: false,
      timeoutMs: 10_000,
      firstRetryMs: 5_000,
      maxRetryMs: 600_000,
      retryForMs: 86_400_000,
      deliveriesKept: 1000,
      maxWebhooks: 100,
    });
  });

  it("takes lower timings (tests), and private addresses when allowed", () => {
    const { webhooks } = loadConfig({
      LOCUS_WEBHOOK_ALLOW_PRIVATE: "true",
      LOCUS_WEBHOOK_TIMEOUT_MS: "200",
      LOCUS_WEBHOOK_FIRST_RETRY_MS: "20",
      LOCUS_WEBHOOK_MAX_RETRY_MS: "100",
      LOCUS_WEBHOOK_RETRY_FOR_S: "60",
      LOCUS_WEBHOOK_DELIVERIES_KEPT: "10",
      LOCUS_WEBHOOK_MAX: "5",
    });
    expect(webhooks).toMatchObject({
      allowPrivate: true,
      timeoutMs: 200,
      firstRetryMs: 20,
      maxRetryMs: 100,
      retryForMs: 60_000,
      deliveriesKept: 10,
      maxWebhooks: 5,
    });
  });

  it.each([
    ["LOCUS_WEBHOOK_ALLOW_PRIVATE", "yes"],
    ["LOCUS_WEBHOOK_TIMEOUT_MS", "30000"],
    ["LOCUS_WEBHOOK_FIRST_RETRY_MS", "6000"],
    ["LOCUS_WEBHOOK_MAX_RETRY_MS", "700000"],
    ["LOCUS_WEBHOOK_MAX_RETRY_MS", "10"],
    ["LOCUS_WEBHOOK_RETRY_FOR_S", "-1"],
    ["LOCUS_WEBHOOK_DELIVERIES_KEPT", "0"],
    ["LOCUS_WEBHOOK_MAX", "5000"],
  ])("refuses %s=%s naming the setting", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});

describe("LOCUS_ENGINE_*", () => {
  const PG = { LOCUS_DATABASE_URL: "postgres://locus@127.0.0.1/locus" };

  it("is off by default: one hub judges every fix it receives", () => {
    expect(loadConfig(PG).engine).toBeNull();
  });

  it("takes the engine's nodes, 64 partitions, 3 replicas, a 4 s lease and a day kept by default", () => {
    const config = loadConfig({
      ...PG,
      LOCUS_ENGINE_URL: "nats://hub:pw@10.0.0.1:4222, tls://10.0.0.2:4222",
    });
    expect(config.engine).toEqual({
      urls: ["nats://hub:pw@10.0.0.1:4222", "tls://10.0.0.2:4222"],
      partitions: 64,
      replicas: 3,
      leaseMs: 4000,
      retentionHours: 24,
    });
    const tuned = loadConfig({
      ...PG,
      LOCUS_ENGINE_URL: "nats://127.0.0.1:4222",
      LOCUS_ENGINE_PARTITIONS: "16",
      LOCUS_ENGINE_REPLICAS: "1",
      LOCUS_ENGINE_LEASE_MS: "2000",
      LOCUS_ENGINE_RETENTION_HOURS: "6",
    });
    expect(tuned.engine).toMatchObject({
      partitions: 16,
      replicas: 1,
      leaseMs: 2000,
      retentionHours: 6,
    });
  });

  it("refuses another scheme, no PostgreSQL, an external broker and bad numbers", () => {
    const engine = { LOCUS_ENGINE_URL: "nats://127.0.0.1:4222" };
    expect(() => loadConfig({ ...PG, LOCUS_ENGINE_URL: "http://127.0.0.1:4222" })).toThrow(
      /LOCUS_ENGINE_URL: "http:" is not nats: or tls:/,
    );
    expect(() => loadConfig(engine)).toThrow(/LOCUS_ENGINE_URL: .*LOCUS_DATABASE_URL/);
    expect(() => loadConfig({ ...PG, ...engine, LOCUS_MQTT_URL: "mqtt://127.0.0.1:1883" })).toThrow(
      /LOCUS_ENGINE_URL: .*unset LOCUS_MQTT_URL/,
    );
    expect(() => loadConfig({ ...PG, ...engine, LOCUS_ENGINE_PARTITIONS: "0" })).toThrow(
      /LOCUS_ENGINE_PARTITIONS/,
    );
    expect(() => loadConfig({ ...PG, ...engine, LOCUS_ENGINE_LEASE_MS: "100" })).toThrow(
      /LOCUS_ENGINE_LEASE_MS/,
    );
    expect(() => loadConfig({ ...PG, ...engine, LOCUS_ENGINE_RETENTION_HOURS: "0" })).toThrow(
      /LOCUS_ENGINE_RETENTION_HOURS/,
    );
  });
});
