// Location fixes: the §3 payload a device sends, the decoded Fix the hub works with, and the
// stored fix as REST answers give it back. Schemas feed REST validation and OpenAPI.

import type { Static } from "typebox";
import Type from "typebox";
import { copyReadings } from "./readings.ts";
import { formatTs, MAX_TS_MS, MIN_TS_MS } from "./time.ts";
import { VEHICLE_ID_PATTERN } from "./topics.ts";

/** Most fixes one message may carry. */
export const MAX_BATCH = 1000;

const VehicleIdSchema = Type.String({
  pattern: VEHICLE_ID_PATTERN.source,
  description: "Vehicle id: 1-64 characters of A-Z a-z 0-9 _ . -",
});
const LatitudeSchema = Type.Number({
  minimum: -90,
  maximum: 90,
  description: "WGS 84 latitude, degrees",
});
const LongitudeSchema = Type.Number({
  minimum: -180,
  maximum: 180,
  description: "WGS 84 longitude, degrees",
});
const SeqSchema = Type.Integer({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "Per-vehicle sequence number, rising; with ts it identifies a fix",
});
const SpeedSchema = Type.Number({ minimum: 0, description: "Speed over ground, m/s" });
const HeadingSchema = Type.Number({
  minimum: 0,
  maximum: 360,
  description: "Heading, degrees clockwise from true north",
});
const AccuracySchema = Type.Number({ minimum: 0, description: "Horizontal accuracy, m" });
const AltitudeSchema = Type.Number({ description: "Altitude, m" });
const TimeStringSchema = Type.String({
  format: "date-time",
  description: "RFC 3339 date-time",
});

/** One fix as a device publishes it on `locus/vehicles/{vehicle_id}/location`. */
export const FixPayloadSchema = Type.Object(
  {
    latitude: LatitudeSchema,
    longitude: LongitudeSchema,
    ts: Type.Optional(
      Type.Union(
        [
          TimeStringSchema,
          Type.Integer({ minimum: MIN_TS_MS, maximum: MAX_TS_MS, description: "Epoch ms" }),
        ],
        { description: "Time of the fix; absent: the time the hub received it" },
      ),
    ),
    seq: Type.Optional(SeqSchema),
    vehicle_id: Type.Optional(
      Type.String({
        pattern: VEHICLE_ID_PATTERN.source,
        description: "Vehicle id; if present it must equal the topic's vehicle id",
      }),
    ),
    speed: Type.Optional(SpeedSchema),
    heading: Type.Optional(HeadingSchema),
    accuracy: Type.Optional(AccuracySchema),
    altitude: Type.Optional(AltitudeSchema),
  },
  { description: "A location fix; unknown fields are ignored" },
);
export type FixPayload = Static<typeof FixPayloadSchema>;

/** A batch of fixes in one message, oldest first. */
export const FixBatchSchema = Type.Array(FixPayloadSchema, {
  minItems: 1,
  maxItems: MAX_BATCH,
  description: "A batch of fixes, oldest first",
});

/** A stored fix as the REST API returns it. */
export const FixSchema = Type.Object(
  {
    vehicle_id: VehicleIdSchema,
    ts: Type.String({ format: "date-time", description: "Time of the fix, RFC 3339 UTC" }),
    latitude: LatitudeSchema,
    longitude: LongitudeSchema,
    seq: Type.Optional(SeqSchema),
    speed: Type.Optional(SpeedSchema),
    heading: Type.Optional(HeadingSchema),
    accuracy: Type.Optional(AccuracySchema),
    altitude: Type.Optional(AltitudeSchema),
  },
  { description: "A stored location fix" },
);
export type WireFix = Static<typeof FixSchema>;

/**
 * A fix as the system handles it once decoded. Optional fields that were absent are undefined
 * (the decoder always sets every key, so all fixes share one object shape).
 */
export interface Fix {
  vehicle_id: string;
  latitude: number;
  longitude: number;
  /** Epoch ms. */
  ts: number;
  /** False when the payload had no ts and the receive time was used; such a fix is never a duplicate. */
  ts_given: boolean;
  seq?: number;
  speed?: number;
  heading?: number;
  accuracy?: number;
  altitude?: number;
}

/**
 * The §3 shape of a fix, with its time as an RFC 3339 UTC string and unknown fields left out.
 * Also a valid FixPayload, so a device can publish it as is.
 */
export function toWireFix(fix: Fix): WireFix {
  const wire: WireFix = {
    vehicle_id: fix.vehicle_id,
    ts: formatTs(fix.ts),
    latitude: fix.latitude,
    longitude: fix.longitude,
  };
  if (fix.seq !== undefined) wire.seq = fix.seq;
  return copyReadings(wire, fix);
}
