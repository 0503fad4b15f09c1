// Geofence routes: create, list, read, replace and delete GeoJSON Features (CONTRACT §5), keeping
// the live geofence engine in step with the store.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import Type from "typebox";
import type { MultiPolygonCoords } from "../geofence/fence.ts";
import { validateGeometry } from "../geofence/validate.ts";
import type { ApiDeps } from "./deps.ts";
import { badRequest, notFound, quote } from "./errors.ts";
import { toFeature, toGeofenceInput } from "./geofence-feature.ts";
import { decodeCursor, pageOf } from "./pagination.ts";
import {
  AUTHENTICATED_ERRORS,
  DEFAULT_PAGE_LIMIT,
  ErrorSchema,
  GeofenceCollectionSchema,
  GeofenceIdParamsSchema,
  GeofenceInputSchema,
  GeofenceSchema,
  PageQuerySchema,
} from "./schemas.ts";

const TAGS = ["geofences"];

function noGeofence(id: string): Error {
  return notFound(`no geofence with id ${quote(id)}: list them with GET /api/v1/geofences`);
}

export const geofenceRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (
  app,
  { deps },
) => {
  // Geometry is checked before the schema, so a bad ring gets a message naming its problem rather
  // than a generic schema mismatch; the normalised coordinates are kept for the handler.
  const geometries = new WeakMap<FastifyRequest, MultiPolygonCoords>();
  const checkGeometry = async (request: FastifyRequest) => {
    const body = request.body;
    if (typeof body !== "object" || body === null || !("geometry" in body)) return;
    const result = validateGeometry(body.geometry, { maxVertices: deps.maxVertices });
    if (!result.ok) {
      const { path, message } = result.problem;
      throw badRequest(`body/${path}: ${message}`);
    }
    // A store backed by a spatial database may judge the geometry too (PostGIS's ST_IsValid),
    // so that nothing is stored that the database would evaluate differently.
    const verdict = await deps.store.checkGeometry?.(result.polygons);
    if (typeof verdict === "string") {
      throw badRequest(
        `body/geometry: PostGIS finds the geometry invalid: ${verdict}; fix the rings there`,
      );
    }
    geometries.set(request, result.polygons);
  };
  const checkedGeometry = (request: FastifyRequest): MultiPolygonCoords => {
    const polygons = geometries.get(request);
    if (polygons === undefined) throw new Error("geometry was not validated");
    return polygons;
  };

  app.post(
    "/geofences",
    {
      preValidation: checkGeometry,
      schema: {
        tags: TAGS,
        summary: "Create a geofence",
        description:
          "Stores a GeoJSON Feature whose geometry is a Polygon or MultiPolygon. A clockwise exterior ring is normalised to counter-clockwise (RFC 7946). The new geofence is judged from each vehicle's next fix on.",
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
      const input = toGeofenceInput(request.body, checkedGeometry(request));
      const record = await deps.store.createGeofence(input, Date.now());
      await deps.fences.upsert(record);
      reply.header("location", `/api/v1/geofences/${encodeURIComponent(record.id)}`);
      return reply.code(201).send(toFeature(record));
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
      const limit = request.query.limit ?? DEFAULT_PAGE_LIMIT;
      const after =
        request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor);
      const fetched = await deps.store.listGeofences(
        after === undefined ? { limit: limit + 1 } : { limit: limit + 1, after },
      );
      const page = pageOf(fetched, limit, (g) => g.id);
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
    async (request) => {
      const { id } = request.params;
      const bodyId = (request.body as { id?: unknown }).id;
      if (bodyId !== undefined && bodyId !== id) {
        throw badRequest(
          `body/id ${quote(String(bodyId))} differs from the id in the path ${quote(id)}: leave body/id out or make them equal`,
        );
      }
      const input = toGeofenceInput(request.body, checkedGeometry(request));
      const record = await deps.store.replaceGeofence(id, input, Date.now());
      if (record === null) throw noGeofence(id);
      await deps.fences.upsert(record);
      return toFeature(record);
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
