// Copying a fix's optional readings: present ones kept, absent and NULL ones left out.

import { describe, expect, it } from "vitest";
import { copyReadings, FIX_READINGS } from "./readings.ts";

describe("copyReadings", () => {
  it("copies every reading the source has, zero and negative altitude included", () => {
    const target = { latitude: 1, longitude: 2 };
    const out = copyReadings(target, { speed: 0, heading: 359.5, accuracy: 3, altitude: -12 });
    expect(out).toBe(target);
    expect(out).toEqual({
      latitude: 1,
      longitude: 2,
      speed: 0,
      heading: 359.5,
      accuracy: 3,
      altitude: -12,
    });
  });

  it("leaves out readings that are undefined or null, and keys that are not readings", () => {
    const source = { speed: undefined, heading: null, accuracy: 4, altitude: null, seq: 7 };
    const out = copyReadings({ latitude: 1, longitude: 2 }, source);
    expect(out).toEqual({ latitude: 1, longitude: 2, accuracy: 4 });
    expect(Object.keys(out)).toEqual(["latitude", "longitude", "accuracy"]);
  });

  it("names the readings of the wire format", () => {
    expect(FIX_READINGS).toEqual(["speed", "heading", "accuracy", "altitude"]);
  });
});
