import { describe, expect, it } from "vitest";
import { decodeOwnTracks, type OwnTracksResult, parseOwnTracksTopic } from "./owntracks.ts";

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const TST = Math.floor(NOW / 1000) - 30;
const decode = (payload: unknown, options = {}) =>
  decodeOwnTracks(typeof payload === "string" ? payload : JSON.stringify(payload), "van-1", {
    receivedAt: NOW,
    notAfter: NOW + 600_000,
    ...options,
  });

function fixOf(r: OwnTracksResult) {
  if (r.kind !== "fix") throw new Error(`expected a fix, got ${JSON.stringify(r)}`);
  return r.fix;
}

// Payloads as the apps publish them (fields and their types as the apps write them).
const ANDROID = {
  _type: "location",
  acc: 13,
  alt: 71,
  batt: 88,
  bs: 1,
  conn: "w",
  created_at: TST + 2,
  lat: 52.516275,
  lon: 13.377704,
  m: 1,
  t: "u",
  tid: "ph",
  tst: TST,
  vac: 3,
  vel: 36,
  cog: 270,
  topic: "owntracks/van-1/phone",
};
const IOS = {
  _type: "location",
  BSSID: "aa:bb:cc:dd:ee:ff",
  SSID: "depot",
  acc: 5,
  alt: 45,
  batt: 41,
  bs: 2,
  conn: "w",
  inregions: ["depot"],
  lat: 48.85833,
  lon: 2.29513,
  m: 2,
  p: 100.8,
  tid: "JJ",
  tst: TST,
  vac: 4,
  vel: 0,
};

describe("OwnTracks topics", () => {
  it.each([
    ["owntracks/van-1/phone", { user: "van-1", device: "phone" }],
    ["owntracks/van-1/Pixel 8", { user: "van-1", device: "Pixel 8" }],
    ["owntracks/van-1/phone/event", null],
    ["owntracks/van-1", null],
    ["owntracks//phone", null],
    ["owntracks/van-1/", null],
    ["owntracks/bad id/phone", null],
    ["locus/vehicles/van-1/location", null],
  ])("%s", (topic, expected) => {
    expect(parseOwnTracksTopic(topic)).toEqual(expected);
  });
});

describe("OwnTracks locations", () => {
  it("reads the Android app's location with units converted", () => {
    expect(fixOf(decode(ANDROID))).toEqual({
      vehicle_id: "van-1",
      latitude: 52.516275,
      longitude: 13.377704,
      ts: TST * 1000,
      ts_given: true,
      seq: undefined,
      speed: 10, // 36 km/h
      heading: 270,
      accuracy: 13,
      altitude: 71,
    });
  });

  it("reads the iOS app's location (no cog)", () => {
    const fix = fixOf(decode(IOS));
    expect(fix).toMatchObject({ latitude: 48.85833, longitude: 2.29513, ts: TST * 1000 });
    expect(fix.speed).toBe(0);
    expect(fix.heading).toBeUndefined();
  });

  it.each([
    ["vel", { vel: -1 }, "speed"],
    ["cog", { cog: -1 }, "heading"],
    ["acc", { acc: -1 }, "accuracy"],
  ] as const)("a negative %s is absent", (_name, extra, field) => {
    const fix = fixOf(decode({ _type: "location", lat: 1, lon: 2, tst: TST, ...extra }));
    expect(fix[field]).toBeUndefined();
  });

  it("a location without tst gets the receive time and is never a duplicate", () => {
    const fix = fixOf(decode({ _type: "location", lat: 1, lon: 2 }));
    expect(fix.ts).toBe(NOW);
    expect(fix.ts_given).toBe(false);
  });

  it("numbers sent as text are read", () => {
    const fix = fixOf(decode({ _type: "location", lat: "1.5", lon: "2.5", tst: String(TST) }));
    expect(fix).toMatchObject({ latitude: 1.5, longitude: 2.5, ts: TST * 1000 });
  });
});

describe("OwnTracks messages that are not locations", () => {
  it.each([
    [{ _type: "lwt", tst: TST }, "lwt"],
    [
      {
        _type: "transition",
        wtst: TST - 100,
        lat: 1,
        lon: 2,
        tst: TST,
        acc: 10,
        event: "enter",
        desc: "depot",
        t: "c",
      },
      "transition",
    ],
    [{ _type: "waypoint", desc: "depot", lat: 1, lon: 2, rad: 50, tst: TST }, "waypoint"],
    [{ _type: "encrypted", data: "c2VjcmV0" }, "encrypted"],
    [{ _type: "card", name: "Van 1" }, "card"],
    [{ lat: 1, lon: 2 }, ""],
  ])("%j is ignored", (message, type) => {
    expect(decode(message)).toEqual({ kind: "ignored", type });
  });

  it("an empty message (clearing a retained topic) is ignored", () => {
    expect(decode("")).toEqual({ kind: "ignored", type: "" });
    expect(decodeOwnTracks(new Uint8Array(0), "van-1")).toEqual({ kind: "ignored", type: "" });
  });
});

describe("OwnTracks bad input", () => {
  it.each([
    ["{", "invalid_json"],
    ["[1,2]", "not_object"],
    ["42", "not_object"],
    ["null", "not_object"],
    [{ _type: "location", lon: 2 }, "invalid_latitude"],
    [{ _type: "location", lat: 91, lon: 2 }, "invalid_latitude"],
    [{ _type: "location", lat: 1, lon: "east" }, "invalid_longitude"],
    [{ _type: "location", lat: 1, lon: 2, tst: "yesterday" }, "invalid_ts"],
    [{ _type: "location", lat: 1, lon: 2, tst: -5 }, "invalid_ts"],
    [{ _type: "location", lat: 1, lon: 2, tst: 1e20 }, "invalid_ts"],
    [{ _type: "location", lat: 1, lon: 2, tst: TST + 3600 }, "future_ts"],
    [{ _type: "location", lat: 1, lon: 2, vel: "fast" }, "invalid_speed"],
    [{ _type: "location", lat: 1, lon: 2, cog: 400 }, "invalid_heading"],
    [{ _type: "location", lat: 1, lon: 2, acc: {} }, "invalid_accuracy"],
    [{ _type: "location", lat: 1, lon: 2, alt: [] }, "invalid_altitude"],
  ])("%j is rejected as %s", (payload, reason) => {
    expect(decode(payload)).toEqual({ kind: "rejected", reason });
  });

  it("refuses invalid UTF-8 and oversized payloads before parsing", () => {
    expect(decodeOwnTracks(new Uint8Array([0xff, 0xfe]), "van-1")).toEqual({
      kind: "rejected",
      reason: "invalid_utf8",
    });
    const big = JSON.stringify({ ...ANDROID, pad: "x".repeat(70_000) });
    expect(decode(big)).toEqual({ kind: "rejected", reason: "payload_too_large" });
  });

  it("never throws on arbitrary bytes", () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const samples = [JSON.stringify(ANDROID), JSON.stringify(IOS), '{"_type":"location"}'];
    for (let i = 0; i < 2000; i++) {
      const base = Buffer.from(samples[i % samples.length] as string);
      for (let k = 0; k < 1 + (next() % 4); k++) base[next() % base.length] = next() % 256;
      const r = decodeOwnTracks(base, "van-1", { receivedAt: NOW });
      expect(["fix", "ignored", "rejected"]).toContain(r.kind);
    }
  });
});
