// Vehicle routes: the fleet with each vehicle's newest fix, geofences and status, one vehicle's
// location history, and registration with MQTT credentials, their rotation and deletion (CONTRACT §5).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { isVehicleId, toWireFix } from "@locus/protocol";
import Type, { type Static } from "typebox";
import type { VehicleRecord } from "../store/store.ts";
import { accountCall } from "./account-errors.ts";
import {
  DeleteVehicleQuerySchema,
  RegisteredVehicleSchema,
  VehicleCredentialsSchema,
  VehicleRegistrationSchema,
} from "./account-schemas.ts";
import type { ApiDeps, FenceRegistry } from "./deps.ts";
import { notFound, quote } from "./errors.ts";
import { fetchPage, timeWindow } from "./pagination.ts";
import {
  AUTHENTICATED_ERRORS,
  DEFAULT_HISTORY_LIMIT,
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
    ...(record.name === undefined ? {} : { name: record.name }),
    last_fix: record.last_fix === null ? null : toWireFix(record.last_fix),
    geofences,
    status: record.status,
  };
}

function noVehicle(id: string): Error {
  return notFound(
    `no vehicle with id ${quote(id)}: a vehicle appears once it is registered (POST /api/v1/vehicles) or the hub has stored a fix or status from it; list them with GET /api/v1/vehicles`,
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
      const page = await fetchPage(
        request.query,
        (p) => deps.store.listVehicles(p),
        (v) => v.id,
        isVehicleId,
      );
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
      const fixes = await deps.store.locations(id, {
        ...window,
        limit: request.query.limit ?? DEFAULT_HISTORY_LIMIT,
      });
      // A deleted (not purged) vehicle is no longer listed, but its history is still there.
      if (fixes.length === 0 && (await deps.store.getVehicle(id)) === null) {
        const any = await deps.store.locations(id, { limit: 1 });
        if (any.length === 0) throw noVehicle(id);
      }
      return { locations: fixes.map(toWireFix) };
    },
  );

  app.post(
    "/vehicles",
    {
      schema: {
        tags: TAGS,
        summary: "Register a vehicle and issue its MQTT credentials",
        description:
          "Registers the vehicle (it is listed from now on, with last_fix null until its first fix) and issues its MQTT credentials: username = its id, and a random password shown in this answer only; the hub keeps a slow hash of it. 409 when the vehicle is registered already (POST /api/v1/vehicles/{id}/credentials issues a new password); 501 when the MQTT broker cannot hold accounts.",
        body: VehicleRegistrationSchema,
        response: {
          201: RegisteredVehicleSchema,
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          409: ErrorSchema,
          501: ErrorSchema,
          502: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.body;
      const issued = await accountCall(deps.accounts.registerVehicle(id, name ?? null));
      reply.code(201);
      return {
        ...toVehicle(issued.vehicle, deps.fences),
        mqtt: { username: id, password: issued.password },
      };
    },
  );

  app.post(
    "/vehicles/:id/credentials",
    {
      schema: {
        tags: TAGS,
        summary: "Issue a registered vehicle a new MQTT password",
        description:
          "The old password stops working at once and the vehicle's live MQTT sessions are disconnected. The new password is shown in this answer only.",
        params: VehicleIdParamsSchema,
        response: {
          201: VehicleCredentialsSchema,
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          404: ErrorSchema,
          501: ErrorSchema,
          502: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const password = await accountCall(deps.accounts.rotateVehicle(id));
      reply.code(201);
      return { id, mqtt: { username: id, password } };
    },
  );

  app.delete(
    "/vehicles/:id",
    {
      schema: {
        tags: TAGS,
        summary: "Delete a vehicle",
        description:
          "Revokes its MQTT credentials (its live sessions are disconnected) and removes it from the vehicle list. Its stored fixes and events are kept, unless `purge=true`.",
        params: VehicleIdParamsSchema,
        querystring: DeleteVehicleQuerySchema,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await accountCall(
        deps.accounts.deleteVehicle(request.params.id, request.query.purge === true),
      );
      return reply.code(204).send(null);
    },
  );
};
