// Vehicle routes: the fleet with each vehicle's newest fix, geofences and status, and one
// vehicle's location history (CONTRACT §5).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { isVehicleId, toWireFix } from "@locus/protocol";
import type { Static } from "typebox";
import type { VehicleRecord } from "../store/store.ts";
import type { ApiDeps, FenceRegistry } from "./deps.ts";
import { notFound, quote } from "./errors.ts";
import { decodeCursor, pageOf, timeWindow } from "./pagination.ts";
import {
  AUTHENTICATED_ERRORS,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_PAGE_LIMIT,
  ErrorSchema,
  LocationsQuerySchema,
  LocationsSchema,
  PageQuerySchema,
  VehicleIdParamsSchema,
  VehicleListSchema,
  VehicleSchema,
} from "./schemas.ts";

const TAGS = ["vehicles"];

type Vehicle = Static<typeof VehicleSchema>;

/** A vehicle as answers show it; memberships of geofences the engine no longer knows are left out. */
export function toVehicle(record: VehicleRecord, fences: FenceRegistry): Vehicle {
  const geofences = [...record.state.inside.keys()].filter((id) => fences.has(id)).sort();
  return {
    id: record.id,
    last_fix: record.last_fix === null ? null : toWireFix(record.last_fix),
    geofences,
    status: record.status,
  };
}

function noVehicle(id: string): Error {
  return notFound(
    `no vehicle with id ${quote(id)}: a vehicle appears once the hub has stored a fix or status from it; list them with GET /api/v1/vehicles`,
  );
}

export const vehicleRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (
  app,
  { deps },
) => {
  app.get(
    "/vehicles",
    {
      schema: {
        tags: TAGS,
        summary: "List vehicles",
        description:
          "A page of vehicles ordered by id. When there are more, `next_cursor` is set: pass it as `cursor` for the next page.",
        querystring: PageQuerySchema,
        response: { 200: VehicleListSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE_LIMIT;
      const after =
        request.query.cursor === undefined
          ? undefined
          : decodeCursor(request.query.cursor, isVehicleId);
      const fetched = await deps.store.listVehicles(
        after === undefined ? { limit: limit + 1 } : { limit: limit + 1, after },
      );
      const page = pageOf(fetched, limit, (v) => v.id);
      const list: Static<typeof VehicleListSchema> = {
        vehicles: page.items.map((v) => toVehicle(v, deps.fences)),
      };
      if (page.nextCursor !== undefined) list.next_cursor = page.nextCursor;
      return list;
    },
  );

  app.get(
    "/vehicles/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Get a vehicle",
        params: VehicleIdParamsSchema,
        response: { 200: VehicleSchema, ...AUTHENTICATED_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => {
      const record = await deps.store.getVehicle(request.params.id);
      if (record === null) throw noVehicle(request.params.id);
      return toVehicle(record, deps.fences);
    },
  );

  app.get(
    "/vehicles/:id/locations",
    {
      schema: {
        tags: TAGS,
        summary: "A vehicle's location history",
        description:
          "Stored fixes in ts order (oldest first), within from..to inclusive, at most `limit` of them.",
        params: VehicleIdParamsSchema,
        querystring: LocationsQuerySchema,
        response: { 200: LocationsSchema, ...AUTHENTICATED_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const window = timeWindow(request.query);
      if ((await deps.store.getVehicle(id)) === null) throw noVehicle(id);
      const fixes = await deps.store.locations(id, {
        ...window,
        limit: request.query.limit ?? DEFAULT_HISTORY_LIMIT,
      });
      return { locations: fixes.map(toWireFix) };
    },
  );
};
