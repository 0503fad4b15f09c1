// TypeBox schemas shared by the routes: the error body, GeoJSON geofences, vehicles, pages and time
// ranges. They drive validation, serialisation and the OpenAPI document alike.

import { FixSchema, VEHICLE_ID_PATTERN } from "@locus/protocol";
import Type from "typebox";

/** Every error answer (CONTRACT §5). */
export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ description: "HTTP status code" }),
    error: Type.String({ description: "HTTP status text" }),
    message: Type.String({ description: "What went wrong and what to fix" }),
  },
  { description: "An error" },
);

/** Error answers every authenticated route can give. */
export const AUTHENTICATED_ERRORS = {
  400: ErrorSchema,
  401: ErrorSchema,
} as const;

export const BEARER_SECURITY = [{ bearerAuth: [] }];

/** Path limits, not part of the contract: they keep messages and lookups small. */
export const MAX_ID_LENGTH = 128;

export const GeofenceIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: "Geofence id" }),
});

export const VehicleIdParamsSchema = Type.Object({
  id: Type.String({
    pattern: VEHICLE_ID_PATTERN.source,
    description: "Vehicle id: 1-64 characters of A-Z a-z 0-9 _ . -",
  }),
});

// GeoJSON geometry (RFC 7946). The schema documents the shape; validateGeometry checks the rest
// (ranges, closed rings, self-intersection, holes, vertex count) before it is applied.
const PositionSchema = Type.Array(Type.Number(), {
  minItems: 2,
  maxItems: 3,
  description: "[longitude, latitude] in WGS 84 degrees; an optional altitude is dropped",
});
const RingSchema = Type.Array(PositionSchema, {
  minItems: 4,
  description: "A closed linear ring: at least 4 positions, the last equal to the first",
});
const PolygonRingsSchema = Type.Array(RingSchema, {
  minItems: 1,
  description: "The exterior ring, then any holes",
});

export const PolygonSchema = Type.Object(
  { type: Type.Literal("Polygon"), coordinates: PolygonRingsSchema },
  { description: "A GeoJSON Polygon" },
);
export const MultiPolygonSchema = Type.Object(
  {
    type: Type.Literal("MultiPolygon"),
    coordinates: Type.Array(PolygonRingsSchema, { minItems: 1 }),
  },
  { description: "A GeoJSON MultiPolygon" },
);
export const PointSchema = Type.Object(
  { type: Type.Literal("Point"), coordinates: PositionSchema },
  { description: "A GeoJSON Point: the centre of a circle, with properties.radius_m" },
);
export const LineStringSchema = Type.Object(
  { type: Type.Literal("LineString"), coordinates: Type.Array(PositionSchema, { minItems: 2 }) },
  {
    description:
      "A GeoJSON LineString: the centre line of a corridor, with properties.width_m; its segments are great-circle arcs",
  },
);
export const GeometrySchema = Type.Union(
  [PolygonSchema, MultiPolygonSchema, PointSchema, LineStringSchema],
  {
    description:
      "A GeoJSON Polygon or MultiPolygon (RFC 7946; a clockwise exterior ring is accepted and returned counter-clockwise), a Point with properties.radius_m (a circle) or a LineString with properties.width_m (a corridor); at most 100,000 vertices in all",
  },
);

/** Upper bounds of the per-geofence jitter settings: beyond them a value is surely a mistake. */
export const MAX_HYSTERESIS_M = 10_000;
export const MAX_ACCURACY_M = 100_000;
export const MAX_DWELL_S = 30 * 24 * 3600;

/** Circles' radii and corridors' widths, metres (geofence/validate-shape.ts checks them first). */
const RadiusSchema = Type.Number({
  minimum: 1,
  maximum: 100_000,
  description:
    "Metres, 1 to 100000: the radius of a circle; required with a Point geometry, refused with any other",
});
const WidthSchema = Type.Number({
  minimum: 1,
  maximum: 100_000,
  description:
    "Metres, 1 to 100000: the full width of a corridor (half on each side of the line); required with a LineString geometry, refused with any other",
});

const NameSchema = Type.String({
  minLength: 1,
  maxLength: 200,
  description: "Geofence name, 1-200 characters",
});
const HysteresisSchema = Type.Number({
  minimum: 0,
  maximum: MAX_HYSTERESIS_M,
  description: `Metres: once inside, a vehicle exits only when more than this far outside; 0 to ${MAX_HYSTERESIS_M}, 0 or absent: off`,
});
const MaxAccuracySchema = Type.Number({
  exclusiveMinimum: 0,
  maximum: MAX_ACCURACY_M,
  description: `Metres: fixes with a worse accuracy change no membership of this geofence; over 0, up to ${MAX_ACCURACY_M}, absent: the hub's default`,
});
const DwellSchema = Type.Number({
  exclusiveMinimum: 0,
  maximum: MAX_DWELL_S,
  description: `Seconds: one dwell event once a vehicle has been inside this long; over 0, up to ${MAX_DWELL_S} (30 days), absent: off`,
});

const DetectCrossingSchema = Type.Boolean({
  description:
    "true: also report a vehicle that passed through between two fixes, neither of them inside, as an enter and an exit with interpolated ts, position and `interpolated: true`; absent or false: off",
});

export const GeofenceInputSchema = Type.Object(
  {
    type: Type.Literal("Feature"),
    geometry: GeometrySchema,
    properties: Type.Object(
      {
        name: NameSchema,
        hysteresis_m: Type.Optional(HysteresisSchema),
        max_accuracy_m: Type.Optional(MaxAccuracySchema),
        dwell_s: Type.Optional(DwellSchema),
        radius_m: Type.Optional(RadiusSchema),
        width_m: Type.Optional(WidthSchema),
        detect_crossing: Type.Optional(DetectCrossingSchema),
      },
      {
        additionalProperties: true,
        description:
          "name is required; other properties are kept as sent (at most 16 KiB of JSON); created_at and updated_at are set by the hub",
      },
    ),
  },
  {
    additionalProperties: true,
    description:
      "A GeoJSON Feature whose geometry is a Polygon or MultiPolygon, a Point with properties.radius_m (a circle) or a LineString with properties.width_m (a corridor)",
  },
);

const TimestampSchema = Type.String({ format: "date-time", description: "RFC 3339 UTC" });

export const GeofenceSchema = Type.Object(
  {
    type: Type.Literal("Feature"),
    id: Type.String({ description: "Geofence id, assigned by the hub" }),
    geometry: GeometrySchema,
    properties: Type.Object(
      {
        name: NameSchema,
        hysteresis_m: Type.Optional(HysteresisSchema),
        max_accuracy_m: Type.Optional(MaxAccuracySchema),
        dwell_s: Type.Optional(DwellSchema),
        radius_m: Type.Optional(RadiusSchema),
        width_m: Type.Optional(WidthSchema),
        detect_crossing: Type.Optional(DetectCrossingSchema),
        created_at: TimestampSchema,
        updated_at: TimestampSchema,
      },
      { additionalProperties: true, description: "The properties as sent, with the hub's times" },
    ),
  },
  { description: "A stored geofence" },
);

const NextCursorSchema = Type.String({
  description: "Pass as `cursor` to get the next page; absent on the last page",
});

export const GeofenceCollectionSchema = Type.Object(
  {
    type: Type.Literal("FeatureCollection"),
    features: Type.Array(GeofenceSchema),
    next_cursor: Type.Optional(NextCursorSchema),
  },
  { description: "A page of geofences, oldest first" },
);

export const VehicleSchema = Type.Object(
  {
    id: Type.String({ description: "Vehicle id" }),
    name: Type.Optional(
      Type.String({ description: "The name given when it was registered; absent when none was" }),
    ),
    last_fix: Type.Union([FixSchema, Type.Null()], {
      description: "The newest fix judged, or null before the first",
    }),
    geofences: Type.Array(Type.String(), {
      description: "Ids of the geofences the vehicle is inside, sorted",
    }),
    status: Type.Union([Type.Literal("online"), Type.Literal("offline"), Type.Literal("unknown")], {
      description: "The agent's last status message; unknown before the first",
    }),
  },
  { description: "A vehicle" },
);

export const VehicleListSchema = Type.Object({
  vehicles: Type.Array(VehicleSchema),
  next_cursor: Type.Optional(NextCursorSchema),
});

const CursorSchema = Type.String({
  minLength: 1,
  maxLength: 512,
  description: "next_cursor of the previous page",
});

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;

/** Query of a paged list: `limit` (default 100, max 1000) and `cursor`. */
export const PageQuerySchema = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      default: DEFAULT_PAGE_LIMIT,
      description: "Page size, 1 to 1000, default 100; larger values are refused, not clamped",
    }),
  ),
  cursor: Type.Optional(CursorSchema),
});

export const MAX_HISTORY_LIMIT = 10_000;
export const DEFAULT_HISTORY_LIMIT = 1000;

export const FromSchema = Type.String({
  description: "Only from this time on, inclusive: RFC 3339, e.g. 2026-11-24T20:00:00Z",
});
export const ToSchema = Type.String({
  description: "Only up to this time, inclusive: RFC 3339, e.g. 2026-11-24T21:00:00Z",
});
export const HistoryLimitSchema = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: MAX_HISTORY_LIMIT,
    default: DEFAULT_HISTORY_LIMIT,
    description: `Most items returned, 1 to ${MAX_HISTORY_LIMIT}, default ${DEFAULT_HISTORY_LIMIT}; the oldest come first`,
  }),
);

export const LocationsQuerySchema = Type.Object({
  from: Type.Optional(FromSchema),
  to: Type.Optional(ToSchema),
  limit: HistoryLimitSchema,
});

export const LocationsSchema = Type.Object({
  locations: Type.Array(FixSchema, { description: "Fixes in ts order" }),
});
