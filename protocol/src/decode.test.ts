import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_BYTES, type DecodeResult, decodeLocationMessage } from "./decode.ts";

const TOPIC = "locus/vehicles/truck-01/location";
const NOW = Date.UTC(2026, 10, 24, 20, 0, 5);
const T0 = Date.UTC(2026, 10, 24, 20, 0, 1);
const decode = (payload: unknown, options?: Parameters<typeof decodeLocationMessage>[2]) =>
  decodeLocationMessage(TOPIC, typeof payload === "string" ? payload : JSON.stringify(payload), {
    receivedAt: NOW,
    ...options,
  });
const enc = (s: string) => new TextEncoder().encode(s);

function onlyReject(r: DecodeResult) {
  expect(r.fixes).toEqual([]);
  expect(r.rejects).toHaveLength(1);
  return r.rejects[0];
}

describe("decodeLocationMessage accepts", () => {
  it("the seed payload", () => {
    const r = decodeLocationMessage(
      TOPIC,
      enc('{"vehicle_id":"truck-01","latitude":34.05,"longitude":-118.24}'),
      { receivedAt: NOW },
    );
    expect(r).toEqual({
      vehicle_id: "truck-01",
      fixes: [
        { vehicle_id: "truck-01", latitude: 34.05, longitude: -118.24, ts: NOW, ts_given: false },
      ],
      rejects: [],
    });
  });

  it("a fix without vehicle_id, taking the topic's", () => {
    const r = decode({ latitude: 1, longitude: 2 });
    expect(r.fixes[0]?.vehicle_id).toBe("truck-01");
  });

  it("every field", () => {
    const r = decode({
      vehicle_id: "truck-01",
      latitude: -90,
      longitude: 180,
      ts: "2026-11-24T20:00:01Z",
      seq: 7,
      speed: 12.5,
      heading: 360,
      accuracy: 0,
      altitude: -30.5,
    });
    expect(r.rejects).toEqual([]);
    expect(r.fixes).toStrictEqual([
      {
        vehicle_id: "truck-01",
        latitude: -90,
        longitude: 180,
        ts: T0,
        ts_given: true,
        seq: 7,
        speed: 12.5,
        heading: 360,
        accuracy: 0,
        altitude: -30.5,
      },
    ]);
  });

  it.each([
    ["2026-11-24T20:00:01Z", T0],
    ["2026-11-24T20:00:01.250Z", T0 + 250],
    ["2026-11-24T22:00:01+02:00", T0],
    ["2026-11-24T12:00:01.5-08:00", T0 + 500],
    ["2026-11-24t20:00:01.1234567z", T0 + 123],
    [T0, T0],
    [0, 0],
  ])("ts %j as %d", (ts, ms) => {
    const [fix] = decode({ latitude: 1, longitude: 2, ts }).fixes;
    expect(fix?.ts).toBe(ms);
    expect(fix?.ts_given).toBe(true);
  });

  it("JSON null in an optional field as absent", () => {
    const r = decode({
      latitude: 1,
      longitude: 2,
      vehicle_id: null,
      ts: null,
      seq: null,
      speed: null,
      heading: null,
      accuracy: null,
      altitude: null,
    });
    expect(r.rejects).toEqual([]);
    expect(r.fixes).toStrictEqual([
      {
        vehicle_id: "truck-01",
        latitude: 1,
        longitude: 2,
        ts: NOW,
        ts_given: false,
        seq: undefined,
        speed: undefined,
        heading: undefined,
        accuracy: undefined,
        altitude: undefined,
      },
    ]);
  });

  it("unknown fields, ignoring them", () => {
    const r = decode({ latitude: 1, longitude: 2, satellites: 9, extra: { a: [1] } });
    expect(r.rejects).toEqual([]);
    expect(r.fixes[0]).not.toHaveProperty("satellites");
    expect(r.fixes[0]).not.toHaveProperty("extra");
  });

  it("__proto__ and constructor keys, without reading through them", () => {
    const r = decode('{"__proto__":{"latitude":99,"longitude":99},"constructor":1,"longitude":2}');
    expect(onlyReject(r)).toEqual({ index: 0, reason: "invalid_latitude" });
  });

  it("a UTF-8 BOM, whitespace and a string payload", () => {
    expect(
      decodeLocationMessage(TOPIC, enc('\uFEFF {"latitude":1,"longitude":2}\n')).fixes,
    ).toHaveLength(1);
    expect(decodeLocationMessage(TOPIC, ' {"latitude":1,"longitude":2} ').fixes).toHaveLength(1);
  });

  it("Date.now() as the default receive time", () => {
    const before = Date.now();
    const [fix] = decodeLocationMessage(TOPIC, '{"latitude":1,"longitude":2}').fixes;
    expect(fix?.ts).toBeGreaterThanOrEqual(before);
    expect(fix?.ts).toBeLessThanOrEqual(Date.now());
  });

  it("a batch, in order", () => {
    const batch = Array.from({ length: 5 }, (_, i) => ({
      latitude: i,
      longitude: -i,
      seq: i,
      ts: T0 + i,
    }));
    const r = decode(batch);
    expect(r.rejects).toEqual([]);
    expect(r.fixes.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(r.fixes.map((f) => f.ts)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]);
  });

  it("a mixed batch: keeps the valid fixes and rejects the rest with their index", () => {
    const r = decode([
      { latitude: 1, longitude: 2 },
      { latitude: 91, longitude: 2 },
      "nope",
      { latitude: 3, longitude: 4, seq: 2 },
      { latitude: 3, longitude: 4, ts: "yesterday" },
      null,
      [],
      { latitude: 5, longitude: 6, vehicle_id: "truck-02" },
    ]);
    expect(r.fixes.map((f) => f.latitude)).toEqual([1, 3]);
    expect(r.rejects).toEqual([
      { index: 1, reason: "invalid_latitude" },
      { index: 2, reason: "not_object" },
      { index: 4, reason: "invalid_ts" },
      { index: 5, reason: "not_object" },
      { index: 6, reason: "not_object" },
      { index: 7, reason: "vehicle_id_mismatch" },
    ]);
  });

  it("a batch of exactly 1000 and refuses 1001 whole", () => {
    const fix = { latitude: 1, longitude: 2 };
    expect(decode(Array(1000).fill(fix)).fixes).toHaveLength(1000);
    expect(onlyReject(decode(Array(1001).fill(fix)))).toEqual({
      index: -1,
      reason: "batch_too_large",
    });
  });

  it("a smaller batch limit when configured", () => {
    const fix = { latitude: 1, longitude: 2 };
    expect(decode([fix, fix], { maxBatch: 2 }).fixes).toHaveLength(2);
    expect(onlyReject(decode([fix, fix, fix], { maxBatch: 2 }))?.reason).toBe("batch_too_large");
  });
});

describe("decodeLocationMessage rejects", () => {
  const base = { latitude: 34.05, longitude: -118.24 };
  it.each([
    ["missing latitude", { longitude: 1 }, "invalid_latitude"],
    ["latitude > 90", { ...base, latitude: 90.0001 }, "invalid_latitude"],
    ["latitude < -90", { ...base, latitude: -91 }, "invalid_latitude"],
    ["latitude as string", { ...base, latitude: "34.05" }, "invalid_latitude"],
    ["latitude null", { ...base, latitude: null }, "invalid_latitude"],
    ["latitude huge", '{"latitude":1e400,"longitude":1}', "invalid_latitude"],
    ["missing longitude", { latitude: 1 }, "invalid_longitude"],
    ["longitude > 180", { ...base, longitude: 180.5 }, "invalid_longitude"],
    ["longitude < -180", { ...base, longitude: -181 }, "invalid_longitude"],
    ["longitude as boolean", { ...base, longitude: true }, "invalid_longitude"],
    ["ts date only", { ...base, ts: "2026-11-24" }, "invalid_ts"],
    ["ts loose text", { ...base, ts: "Nov 24 2026" }, "invalid_ts"],
    ["ts without zone", { ...base, ts: "2026-11-24T20:00:01" }, "invalid_ts"],
    ["ts fractional number", { ...base, ts: 1.5 }, "invalid_ts"],
    ["ts negative", { ...base, ts: -1 }, "invalid_ts"],
    ["ts too far", { ...base, ts: 8.64e15 }, "invalid_ts"],
    ["ts as object", { ...base, ts: {} }, "invalid_ts"],
    ["ts as boolean", { ...base, ts: false }, "invalid_ts"],
    ["seq negative", { ...base, seq: -1 }, "invalid_seq"],
    ["seq fractional", { ...base, seq: 1.5 }, "invalid_seq"],
    ["seq as string", { ...base, seq: "1" }, "invalid_seq"],
    ["seq beyond safe integers", { ...base, seq: 2 ** 53 }, "invalid_seq"],
    ["speed negative", { ...base, speed: -0.1 }, "invalid_speed"],
    ["speed as string", { ...base, speed: "fast" }, "invalid_speed"],
    ["speed infinite", '{"latitude":1,"longitude":1,"speed":1e400}', "invalid_speed"],
    ["heading > 360", { ...base, heading: 360.1 }, "invalid_heading"],
    ["heading negative", { ...base, heading: -1 }, "invalid_heading"],
    ["accuracy negative", { ...base, accuracy: -5 }, "invalid_accuracy"],
    ["accuracy as array", { ...base, accuracy: [1] }, "invalid_accuracy"],
    ["altitude as string", { ...base, altitude: "100" }, "invalid_altitude"],
    ["altitude infinite", '{"latitude":1,"longitude":1,"altitude":-1e400}', "invalid_altitude"],
    ["vehicle_id as number", { ...base, vehicle_id: 1 }, "invalid_vehicle_id"],
    ["vehicle_id as object", { ...base, vehicle_id: {} }, "invalid_vehicle_id"],
    ["vehicle_id of another vehicle", { ...base, vehicle_id: "truck-02" }, "vehicle_id_mismatch"],
    ["vehicle_id differing in case", { ...base, vehicle_id: "TRUCK-01" }, "vehicle_id_mismatch"],
    ["vehicle_id empty", { ...base, vehicle_id: "" }, "invalid_vehicle_id"],
    ["vehicle_id not a vehicle id", { ...base, vehicle_id: "truck 01" }, "invalid_vehicle_id"],
  ])("%s", (_name, payload, reason) => {
    // Raw strings carry what JSON.stringify cannot write, such as 1e400 (Infinity once parsed).
    const text = typeof payload === "string" ? payload : JSON.stringify(payload);
    expect(onlyReject(decode(text))).toEqual({ index: 0, reason });
  });

  it.each([
    ["locus/vehicles/truck 01/location"],
    ["locus/vehicles/truck-01/status"],
    ["locus/vehicles/a/b/location"],
    ["locus/geofence/events"],
    [""],
  ])("a bad topic %j", (topic) => {
    const r = decodeLocationMessage(topic, '{"latitude":1,"longitude":2}');
    expect(r).toEqual({
      vehicle_id: null,
      fixes: [],
      rejects: [{ index: -1, reason: "bad_topic" }],
    });
  });

  it.each([
    ["not JSON", "{latitude:1}", "invalid_json"],
    ["truncated", '{"latitude":1,', "invalid_json"],
    ["empty", "", "invalid_json"],
    ["a number", "42", "not_object"],
    ["a string", '"hello"', "not_object"],
    ["null", "null", "not_object"],
    ["true", "true", "not_object"],
    ["an empty batch", "[]", "empty_batch"],
  ])("whole message: %s", (_name, text, reason) => {
    const r = decode(text);
    expect(r.vehicle_id).toBe("truck-01");
    expect(onlyReject(r)).toEqual({ index: -1, reason });
  });

  it("invalid UTF-8", () => {
    const bytes = Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]);
    expect(onlyReject(decodeLocationMessage(TOPIC, bytes))).toEqual({
      index: -1,
      reason: "invalid_utf8",
    });
  });

  it("a payload over the size limit, before parsing it", () => {
    const big = `{"latitude":1,"longitude":2,"pad":"${"x".repeat(DEFAULT_MAX_BYTES)}"}`;
    expect(onlyReject(decode(big))?.reason).toBe("payload_too_large");
    expect(onlyReject(decodeLocationMessage(TOPIC, enc(big)))?.reason).toBe("payload_too_large");
    // Over the limit even though it is not JSON: the size is checked first.
    expect(onlyReject(decode("x".repeat(DEFAULT_MAX_BYTES + 1)))?.reason).toBe("payload_too_large");
  });

  it("measures a string payload in UTF-8 bytes", () => {
    const text = `{"latitude":1,"longitude":2,"name":"${"é".repeat(20)}"}`; // 20 chars, 40 bytes
    const bytes = Buffer.byteLength(text);
    expect(decode(text, { maxBytes: bytes }).fixes).toHaveLength(1);
    expect(onlyReject(decode(text, { maxBytes: bytes - 1 }))?.reason).toBe("payload_too_large");
    expect(
      onlyReject(decodeLocationMessage(TOPIC, enc(text), { maxBytes: bytes - 1 }))?.reason,
    ).toBe("payload_too_large");
  });

  it("honours a configured size limit", () => {
    const text = '{"latitude":1,"longitude":2}';
    expect(decode(text, { maxBytes: text.length }).fixes).toHaveLength(1);
    expect(onlyReject(decode(text, { maxBytes: text.length - 1 }))?.reason).toBe(
      "payload_too_large",
    );
  });

  it("a payload that is neither bytes nor a string", () => {
    const r = decodeLocationMessage(TOPIC, 42 as unknown as string);
    expect(onlyReject(r)?.index).toBe(-1);
  });
});

describe("decodeLocationMessage with notAfter", () => {
  const limit = NOW + 600_000;
  it("refuses a fix whose ts is later than notAfter, keeping the rest of the batch", () => {
    const r = decode(
      [
        { latitude: 1, longitude: 2, ts: limit },
        { latitude: 3, longitude: 4, ts: "9999-12-31T23:59:59Z" },
        { latitude: 5, longitude: 6, ts: limit + 1 },
        { latitude: 7, longitude: 8 },
      ],
      { notAfter: limit },
    );
    expect(r.fixes.map((f) => [f.latitude, f.ts])).toEqual([
      [1, limit],
      [7, NOW],
    ]);
    expect(r.rejects).toEqual([
      { index: 1, reason: "future_ts" },
      { index: 2, reason: "future_ts" },
    ]);
  });

  it("puts no bound on ts without it", () => {
    expect(decode({ latitude: 1, longitude: 2, ts: "9999-12-31T23:59:59Z" }).fixes).toHaveLength(1);
  });
});
