// What decoding costs per fix, beside what a compiled check of the same payloads against the
// schema would add: the reason the decoder is hand-written and held to the schema by property
// tests rather than derived from it. `npx vitest bench --run protocol/src/decode.bench.ts`.
import { Compile } from "typebox/compile";
import { bench, describe } from "vitest";
import { decodeLocationMessage } from "./decode.ts";
import { LocationMessageSchema } from "./fix.ts";

const TOPIC = "locus/vehicles/truck-01/location";
const T0 = Date.UTC(2026, 10, 24, 20);

// A fix as the agent sends it.
function fix(i: number) {
  return {
    vehicle_id: "truck-01",
    ts: new Date(T0 + i * 1000).toISOString(),
    seq: i,
    latitude: 34.05 + i * 1e-5,
    longitude: -118.24 - i * 1e-5,
    speed: 12.5,
    heading: 90.5,
    accuracy: 5,
  };
}

const singles = Array.from({ length: 1000 }, (_, i) => Buffer.from(JSON.stringify(fix(i))));
const batch = Buffer.from(JSON.stringify(Array.from({ length: 1000 }, (_, i) => fix(i))));
const parsedSingles = singles.map((b) => JSON.parse(b.toString()) as unknown);
const check = Compile(LocationMessageSchema);

describe("1000 fixes", () => {
  bench("decodeLocationMessage, one fix per message", () => {
    for (const m of singles) decodeLocationMessage(TOPIC, m);
  });
  bench("decodeLocationMessage, one batch", () => {
    decodeLocationMessage(TOPIC, batch);
  });
  bench("JSON.parse alone, one fix per message", () => {
    for (const m of singles) JSON.parse(m.toString());
  });
  bench("compiled schema check alone, one fix per message (already parsed)", () => {
    for (const v of parsedSingles) check.Check(v);
  });
});
