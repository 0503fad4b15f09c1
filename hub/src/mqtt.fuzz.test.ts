// A running hub (embedded broker, SQLite, ports picked by the OS) fed generated payloads on a
// vehicle's location topic: random bytes, random JSON, hostile fixes, big batches. The hub keeps
// running, locus_fixes_rejected_total grows by exactly the reasons the decoder gives, and a valid
// fix sent afterwards is stored. fast-check prints the seed of a failure; FC_SEED replays it,
// FC_RUNS_SCALE=n runs longer.

import { decodeLocationMessage, formatTs, type RejectReason } from "@locus/protocol";
import fc from "fast-check";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, waitFor } from "../../tests/support/hub-process.ts";
import { loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";

const TOKEN = "fuzz-token-0123456789abcdef";
const VEHICLE = "fuzz-1";
const TOPIC = `locus/vehicles/${VEHICLE}/location`;
// Seeded, so that every CI run draws what the coverage checks were seen to reach (unseeded, an
// unlucky draw can miss a case under load); FC_SEED=random draws afresh, for a longer hunt.
const SEED = process.env.FC_SEED === "random" ? undefined : Number(process.env.FC_SEED ?? 20261206);
const RUNS = Math.max(1, Math.round(60 * Number(process.env.FC_RUNS_SCALE ?? 1)));
/** Fix times stay in the past, so no check on future times plays a part. */
const T0 = Date.UTC(2026, 0, 1);

let hub: Hub;
let device: mqtt.MqttClient;
let maxPayloadBytes: number;

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${hub.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** locus_fixes_rejected_total by reason, as GET /metrics shows it. */
async function rejectedByReason(): Promise<Map<string, number>> {
  const text = await (await api("GET", "/metrics")).text();
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^locus_fixes_rejected_total\{(.*)\} (\S+)$/.exec(line);
    const reason = m && /reason="([^"]*)"/.exec(m[1] ?? "")?.[1];
    if (m && reason) counts.set(reason, Number(m[2]));
  }
  return counts;
}

beforeAll(async () => {
  const config = loadConfig({
    LOCUS_DATA_DIR: tempDir("locus-mqtt-fuzz-"),
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: TOKEN,
    LOCUS_LOG_LEVEL: "silent",
  });
  maxPayloadBytes = config.maxPayloadBytes;
  hub = await startHub(config);
  const registered = await api("POST", "/api/v1/vehicles", { id: VEHICLE });
  expect(registered.status).toBe(201);
  const { mqtt: credentials } = (await registered.json()) as {
    mqtt: { username: string; password: string };
  };
  device = await mqtt.connectAsync(hub.mqttUrl, {
    ...credentials,
    clientId: "fuzz-device",
    reconnectPeriod: 0,
  });
});
afterAll(async () => {
  await device?.endAsync();
  await hub?.close();
});

// ---- payloads --------------------------------------------------------------------------------

const validFix = fc.record(
  {
    latitude: fc.double({ min: -90, max: 90, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
    ts: fc.integer({ min: T0 - 86_400_000, max: T0 }).map((ms) => formatTs(ms)),
    seq: fc.nat(),
  },
  { requiredKeys: ["latitude", "longitude", "ts"] },
);
const wrong = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom<unknown>(null, "", 91, -181, 1e308, -1, 2 ** 60, "2026-13-01T00:00:00Z", "x"),
);
const hostileFix = fc
  .tuple(
    validFix,
    fc.dictionary(
      fc.constantFrom("latitude", "longitude", "ts", "seq", "speed", "heading", "vehicle_id"),
      wrong,
      { maxKeys: 2 },
    ),
  )
  .map(([fix, over]) => ({ ...fix, ...over }));
const element = fc.oneof(validFix, hostileFix, wrong);

/** What a misbehaving device might publish; all of it under the payload limit. */
const payload: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  element.map((e) => Buffer.from(JSON.stringify(e))),
  fc.array(element, { minLength: 1, maxLength: 50 }).map((b) => Buffer.from(JSON.stringify(b))),
  // At and past the batch limit.
  fc
    .tuple(fc.constantFrom(1000, 1001), element)
    .map(([n, e]) => Buffer.from(JSON.stringify(Array.from({ length: n }, () => e)))),
  fc.integer({ min: 1, max: 20_000 }).map((n) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`)),
);

describe("a running hub fed generated MQTT payloads", () => {
  it("keeps running, counts every drop by its reason, and stores a valid fix afterwards", async () => {
    const before = await rejectedByReason();
    expect(before.size).toBeGreaterThan(0);
    const expected = new Map<RejectReason, number>();

    await fc.assert(
      fc.asyncProperty(payload, async (body) => {
        // The decoder is the spec of what the hub drops and why.
        const { rejects } = decodeLocationMessage(TOPIC, body, { maxBytes: maxPayloadBytes });
        for (const r of rejects) expected.set(r.reason, (expected.get(r.reason) ?? 0) + 1);
        await device.publishAsync(TOPIC, body, { qos: 1 });
      }),
      {
        numRuns: RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        // Each whole-message reason at least once, whatever the generators pick.
        examples: [
          [Buffer.from([0xff, 0xfe, 0x7b])],
          [Buffer.from("not json")],
          [Buffer.from("[]")],
          [Buffer.from(JSON.stringify(Array.from({ length: 1001 }, () => ({ latitude: 1 }))))],
        ],
      },
    );
    expect(device.connected).toBe(true);

    // A drop is counted before its PUBACK; waiting covers a broker that acknowledges earlier.
    const grown = () =>
      [...expected].every(([reason, n]) => {
        return (latest.get(reason) ?? 0) - (before.get(reason) ?? 0) >= n;
      });
    let latest = before;
    await waitFor(
      async () => {
        latest = await rejectedByReason();
        return grown() ? true : undefined;
      },
      20_000,
      () =>
        `rejects by reason: expected ${JSON.stringify([...expected])}, have ${JSON.stringify([...latest])}`,
    );
    for (const [reason, n] of expected) {
      expect((latest.get(reason) ?? 0) - (before.get(reason) ?? 0), reason).toBe(n);
    }
    for (const reason of ["invalid_utf8", "invalid_json", "empty_batch", "batch_too_large"]) {
      expect(expected.get(reason as RejectReason), reason).toBeGreaterThan(0);
    }

    const health = await api("GET", "/api/v1/health");
    expect(health.status).toBe(200);

    const ts = formatTs(T0 + 1);
    await device.publishAsync(
      TOPIC,
      JSON.stringify({ latitude: 12.5, longitude: 45.25, ts, seq: 1_000_000_000 }),
      { qos: 1 },
    );
    const stored = await waitFor(async () => {
      const r = await api("GET", `/api/v1/vehicles/${VEHICLE}/locations?from=${ts}&to=${ts}`);
      const body = (await r.json()) as { locations?: { latitude: number; seq?: number }[] };
      return body.locations?.find((f) => f.seq === 1_000_000_000);
    });
    expect(stored).toMatchObject({ latitude: 12.5, longitude: 45.25, ts });
  });
});
