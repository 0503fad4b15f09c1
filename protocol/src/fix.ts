// Location fixes: the §3 payload a device sends, the decoded Fix the hub works with, and the
// stored fix as REST answers give it back. Schemas feed REST validation and OpenAPI.

import type { Static, TSchema } from "typebox";
import Type from "typebox";
import { copyReadings } from "./readings.ts";
import { EpochMsSchema, formatTs, timeStringSchema } from "./time.ts";
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

// JSON null in an optional field means the same as leaving it out: many serialisers write
// absent values as null, and a device should not lose a fix over it.
function absentOrNull<T extends TSchema>(schema: T) {
  return Type.Optional(Type.Union([schema, Type.Null()]));
}

/**
 * One fix as a device publishes it on `locus/vehicles/{vehicle_id}/location`: the spec that
 * `decodeLocationMessage` is held to. The one rule it cannot state is relative to the topic: a
 * `vehicle_id` present must equal the topic's.
 */
export const FixPayloadSchema = Type.Object(
  {
    latitude: LatitudeSchema,
    longitude: LongitudeSchema,
    ts: absentOrNull(
      Type.Union([timeStringSchema("RFC 3339 date-time"), EpochMsSchema], {
        description: "Time of the fix; absent: the time the hub received it",
      }),
    ),
    seq: absentOrNull(SeqSchema),
    vehicle_id: absentOrNull(
      Type.String({
        pattern: VEHICLE_ID_PATTERN.source,
        description: "Vehicle id; if present it must equal the topic's vehicle id",
      }),
    ),
    speed: absentOrNull(SpeedSchema),
    heading: absentOrNull(HeadingSchema),
    accuracy: absentOrNull(AccuracySchema),
    altitude: absentOrNull(AltitudeSchema),
  },
  { description: "A location fix; unknown fields are ignored, null is the same as absent" },
);
export type FixPayload = Static<typeof FixPayloadSchema>;

/** A batch of fixes in one message, oldest first. */
export const FixBatchSchema = Type.Array(FixPayloadSchema, {
  minItems: 1,
  maxItems: MAX_BATCH,
  description: "A batch of fixes, oldest first",
});

/** The payload of a location message: one fix, or a batch. */
export const LocationMessageSchema = Type.Union([FixPayloadSchema, FixBatchSchema], {
  description: "One fix, or a batch of 1..1000 fixes",
});

/** A stored fix as the REST API returns it. */
export const FixSchema = Type.Object(
  {
    vehicle_id: VehicleIdSchema,
    ts: timeStringSchema("Time of the fix, RFC 3339 UTC"),
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
