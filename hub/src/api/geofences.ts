// Geofence routes: create, list, read, replace and delete GeoJSON Features (CONTRACT §5), keeping
// the live geofence engine in step with the store.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errorCodes, type FastifyReply, type FastifyRequest } from "fastify";
import secureJson from "secure-json-parse";
import Type from "typebox";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import {
  GeometryPool,
  GeometryPoolBusy,
  type OffloadedCheck,
  type OffloadedGeometry,
} from "../geofence/geometry-pool.ts";
import { type GeometryProblem, validateGeometry } from "../geofence/validate.ts";
import { isShapeGeometry, strayShapeProperty, validateShape } from "../geofence/validate-shape.ts";
import type { GeofenceInput, GeofenceRecord } from "../store/store.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, badRequest, notFound, quote } from "./errors.ts";
import {
  type GeofenceBody,
  MAX_PROPERTIES_DEPTH,
  toFeature,
  toGeofenceInput,
  type ValidatedShape,
} from "./geofence-feature.ts";
import { installJsonBodies } from "./json-body.ts";
import { fetchPage } from "./pagination.ts";
import {
  AUTHENTICATED_ERRORS,
  ErrorSchema,
  GeofenceCollectionSchema,
  GeofenceIdParamsSchema,
  GeofenceInputSchema,
  GeofenceSchema,
  PageQuerySchema,
} from "./schemas.ts";

const TAGS = ["geofences"];

/**
 * Bodies of at least this many characters have their geometry checked on the worker thread
 * (about 1,500 vertices); smaller ones take under a millisecond on the main thread.
 */
export const OFFLOAD_MIN_CHARS = 64 * 1024;

/** Geometry checks at most running or waiting on the worker thread; one more gets 503. */
export const MAX_PENDING_GEOMETRY_CHECKS = 8;

/** The methods whose big bodies are parsed on the worker thread: those that take a geofence. */
const OFFLOADED_METHODS = new Set(["POST", "PUT"]);

/**
 * Levels of a big body the worker hands back as sent: the properties (level 2) a few levels past
 * the depth they may have, so the depth check still finds what is too deep; deeper is `{}`.
 */
const KEEP_DEPTH = MAX_PROPERTIES_DEPTH + 4;

/** As the app's JSON parser takes them: prototype-poisoning keys are an error. */
const SAFE_JSON = { protoAction: "error", constructorAction: "error" } as const;

/** A big body as the content-type parser keeps it: text, parsed on the worker thread. */
class UnparsedBody {
  constructor(readonly text: string) {}
}

/** A request's validated geometry; `polygonsJson` when the worker has stringified it already. */
interface CheckedGeometry extends ValidatedShape {
  polygonsJson?: string;
}

function geometryProblem({ path, message }: GeometryProblem): Error {
  return badRequest(`body/${path}: ${message}`);
}

function noGeofence(id: string): Error {
  return notFound(`no geofence with id ${quote(id)}: list them with GET /api/v1/geofences`);
}

export const geofenceRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (
  app,
  { deps },
) => {
  // Big bodies are parsed and their geometry checked on a worker thread, so a geofence of 100,000
  // vertices does not hold up the event loop that acknowledges fixes. This scope parses JSON as
  // the app does, except that a big body to create or replace a geofence is kept as text.
  const pool = new GeometryPool({ maxPending: MAX_PENDING_GEOMETRY_CHECKS });
  app.addHook("onClose", () => pool.close());
  installJsonBodies(app, (request, text) =>
    text.length >= OFFLOAD_MIN_CHARS && OFFLOADED_METHODS.has(request.method)
      ? new UnparsedBody(text)
      : undefined,
  );
  const offloaded = async (text: string, reply: FastifyReply): Promise<OffloadedCheck> => {
    try {
      return await pool.check(text, { maxVertices: deps.maxVertices, keepDepth: KEEP_DEPTH });
    } catch (err) {
      if (!(err instanceof GeometryPoolBusy)) throw err;
      reply.header("retry-after", "1");
      throw new ApiError(
        "LOCUS_BUSY",
        503,
        `${MAX_PENDING_GEOMETRY_CHECKS} large geometries are being checked already: retry after a second`,
      );
    }
  };
  /**
   * A big body as the worker made of it: the parsed body (coordinates stood in for) becomes the
   * request's body for the schema, and its checked geometry is returned. Errors as fastify's
   * parser and checkGeometry give them for the same body.
   */
  const parseOffloaded = async (request: FastifyRequest, reply: FastifyReply, text: string) => {
    const result = await offloaded(text, reply);
    if (result.kind === "unparsable") throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
    if (result.kind === "invalid") throw geometryProblem(result.problem);
    // The worker parsed this text with the same parser already: it is JSON and safe.
    request.body = result.body ?? secureJson.parse(text, null, SAFE_JSON);
    return result.geometry;
  };

  // Geometry is checked before the schema, so a bad ring gets a message naming its problem rather
  // than a generic schema mismatch; the normalised coordinates are kept for the handler.
  const geometries = new WeakMap<FastifyRequest, CheckedGeometry>();
  const checkGeometry = async (request: FastifyRequest, reply: FastifyReply) => {
    let offloadedGeometry: OffloadedGeometry | undefined;
    if (request.body instanceof UnparsedBody) {
      offloadedGeometry = await parseOffloaded(request, reply, request.body.text);
    }
    const body = request.body;
    if (typeof body !== "object" || body === null || !("geometry" in body)) return;
    const properties = (body as { properties?: unknown }).properties;
    let checked: CheckedGeometry;
    if (offloadedGeometry !== undefined) {
      checked = offloadedGeometry;
    } else if (isShapeGeometry(body.geometry)) {
      // A circle or a corridor: never offloaded (the worker leaves them to this thread), as
      // reading a line is linear and quick.
      const geometry = body.geometry as { type?: unknown; coordinates?: unknown };
      const result = validateShape(geometry, properties, { maxVertices: deps.maxVertices });
      if (!result.ok) throw geometryProblem(result.problem);
      checked =
        "circle" in result
          ? { polygons: [], circle: result.circle }
          : { polygons: [], corridor: result.corridor };
      geometries.set(request, checked);
      return;
    } else {
      const result = validateGeometry(body.geometry, { maxVertices: deps.maxVertices });
      if (!result.ok) throw geometryProblem(result.problem);
      checked = { polygons: result.polygons };
    }
    const stray = strayShapeProperty(properties);
    if (stray !== undefined) throw geometryProblem(stray);
    // A store backed by a spatial database may judge the geometry too (PostGIS's ST_IsValid),
    // so that nothing is stored that the database would evaluate differently.
    const verdict = await deps.store.checkGeometry?.(checked.polygons);
    if (typeof verdict === "string") {
      throw badRequest(
        `body/geometry: PostGIS finds the geometry invalid: ${verdict}; fix the rings there`,
      );
    }
    geometries.set(request, checked);
  };
  const checkedInput = (request: FastifyRequest, body: GeofenceBody): GeofenceInput => {
    const checked = geometries.get(request);
    if (checked === undefined) throw new Error("geometry was not validated");
    const input = toGeofenceInput(body, checked);
    if (checked.polygonsJson !== undefined) input.polygons_json = checked.polygonsJson;
    return input;
  };
  const sendFeature = (reply: FastifyReply, record: GeofenceRecord, input: GeofenceInput) => {
    const json = input.polygons_json;
    if (json === undefined) return reply.send(toFeature(record));
    return reply
      .type("application/json; charset=utf-8")
      .send(featureText(reply, record, json) ?? toFeature(record));
  };

  app.post(
    "/geofences",
    {
      preValidation: checkGeometry,
      schema: {
        tags: TAGS,
        summary: "Create a geofence",
        description:
          "Stores a GeoJSON Feature whose geometry is a Polygon or MultiPolygon, a Point with properties.radius_m (a circle: inside within that many metres of it) or a LineString with properties.width_m (a corridor: inside within width_m / 2 metres of the line). Distances are great-circle distances on a sphere of radius 6371008.77 m. A clockwise exterior ring is normalised to counter-clockwise (RFC 7946). The new geofence is judged from each vehicle's next fix on.",
        body: GeofenceInputSchema,
        response: {
          201: GeofenceSchema,
          ...AUTHENTICATED_ERRORS,
          413: ErrorSchema,
          415: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const input = checkedInput(request, request.body);
      const record = await deps.store.createGeofence(input, Date.now());
      await deps.fences.upsert(record);
      reply.header("location", `/api/v1/geofences/${encodeURIComponent(record.id)}`);
      return sendFeature(reply.code(201), record, input);
    },
  );

  app.get(
    "/geofences",
    {
      schema: {
        tags: TAGS,
        summary: "List geofences",
        description:
          "A page of geofences in creation order. When there are more, `next_cursor` is set: pass it as `cursor` for the next page.",
        querystring: PageQuerySchema,
        response: { 200: GeofenceCollectionSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const page = await fetchPage(
        request.query,
        (p) => deps.store.listGeofences(p),
        (g) => g.id,
      );
      const collection: {
        type: "FeatureCollection";
        features: ReturnType<typeof toFeature>[];
        next_cursor?: string;
      } = { type: "FeatureCollection", features: page.items.map(toFeature) };
      if (page.nextCursor !== undefined) collection.next_cursor = page.nextCursor;
      return collection;
    },
  );

  app.get(
    "/geofences/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Get a geofence",
        params: GeofenceIdParamsSchema,
        response: { 200: GeofenceSchema, ...AUTHENTICATED_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => {
      const record = await deps.store.getGeofence(request.params.id);
      if (record === null) throw noGeofence(request.params.id);
      return toFeature(record);
    },
  );

  app.get(
    "/geofences/:id/vehicles",
    {
      schema: {
        tags: TAGS,
        summary: "Who is inside a geofence",
        description:
          "The ids of the vehicles inside the geofence now (as the engine judged their latest fixes, hysteresis and dwell included), in order.",
        params: GeofenceIdParamsSchema,
        response: {
          200: Type.Object({ vehicles: Type.Array(Type.String()) }),
          ...AUTHENTICATED_ERRORS,
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!deps.fences.has(id) && (await deps.store.getGeofence(id)) === null) {
        throw noGeofence(id);
      }
      return { vehicles: await deps.fences.vehiclesInside(id) };
    },
  );

  app.put(
    "/geofences/:id",
    {
      preValidation: checkGeometry,
      schema: {
        tags: TAGS,
        summary: "Replace a geofence",
        description:
          "Replaces geometry and properties, as POST takes them; created_at is kept. A Feature `id` in the body, if any, must equal the path's.",
        params: GeofenceIdParamsSchema,
        body: GeofenceInputSchema,
        response: {
          200: GeofenceSchema,
          ...AUTHENTICATED_ERRORS,
          404: ErrorSchema,
          413: ErrorSchema,
          415: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const bodyId = (request.body as { id?: unknown }).id;
      if (bodyId !== undefined && bodyId !== id) {
        throw badRequest(
          `body/id ${quote(String(bodyId))} differs from the id in the path ${quote(id)}: leave body/id out or make them equal`,
        );
      }
      const input = checkedInput(request, request.body);
      const record = await deps.store.replaceGeofence(id, input, Date.now());
      if (record === null) throw noGeofence(id);
      await deps.fences.upsert(record);
      return sendFeature(reply, record, input);
    },
  );

  app.delete(
    "/geofences/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Delete a geofence",
        description: "A deleted geofence gives no further events.",
        params: GeofenceIdParamsSchema,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...AUTHENTICATED_ERRORS,
          404: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await deps.store.deleteGeofence(id))) throw noGeofence(id);
      await deps.fences.remove(id);
      return reply.code(204).send(null);
    },
  );
};

/**
 * The Feature of a big geofence as JSON text: the route's serializer writes it without positions,
 * and the coordinates the worker stringified are spliced in, byte for byte what the serializer
 * would write (it hands long arrays to JSON.stringify). null if the marker is not found.
 */
function featureText(reply: FastifyReply, record: GeofenceRecord, polygonsJson: string) {
  const polygon = record.geometry_type === "Polygon";
  const stand = toFeature({ ...record, polygons: STAND_IN });
  const text = reply.serializeInput(stand, String(reply.statusCode)) as string;
  const marker = `"geometry":{"type":"${record.geometry_type}","coordinates":`;
  const standIn = JSON.stringify(polygon ? STAND_IN[0] : STAND_IN);
  const at = text.indexOf(marker + standIn);
  if (at < 0) return null;
  const coordinates = polygon ? polygonsJson.slice(1, -1) : polygonsJson;
  const cut = at + marker.length;
  return `${text.slice(0, cut)}${coordinates}${text.slice(cut + standIn.length)}`;
}

/** The smallest coordinates the response schema takes, replaced by the real ones as text. */
const STAND_IN: MultiPolygonCoords = [
  [
    [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
  ],
];
