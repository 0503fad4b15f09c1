// Event history: stored geofence events in the §3 shape, filtered by vehicle, geofence, type and
// time (CONTRACT §5).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { EVENT_TYPES, GeofenceEventSchema, toWireEvent, VEHICLE_ID_PATTERN } from "@locus/protocol";
import Type from "typebox";
import type { EventFilter } from "../store/store.ts";
import type { ApiDeps } from "./deps.ts";
import { timeWindow } from "./pagination.ts";
import {
  AUTHENTICATED_ERRORS,
  DEFAULT_HISTORY_LIMIT,
  FromSchema,
  HistoryLimitSchema,
  MAX_ID_LENGTH,
  ToSchema,
} from "./schemas.ts";

const EventsQuerySchema = Type.Object({
  vehicle_id: Type.Optional(
    Type.String({
      pattern: VEHICLE_ID_PATTERN.source,
      description: "Only this vehicle's events",
    }),
  ),
  geofence_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_ID_LENGTH,
      description: "Only this geofence's events",
    }),
  ),
  type: Type.Optional(
    Type.Unsafe<(typeof EVENT_TYPES)[number]>({
      type: "string",
      enum: [...EVENT_TYPES],
      description: `Only events of this type: ${EVENT_TYPES.join(", ")}`,
    }),
  ),
  from: Type.Optional(FromSchema),
  to: Type.Optional(ToSchema),
  limit: HistoryLimitSchema,
});

const EventListSchema = Type.Object({
  events: Type.Array(GeofenceEventSchema, { description: "Events in ts order, oldest first" }),
});

export const eventRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    "/events",
    {
      schema: {
        tags: ["events"],
        summary: "Stored geofence events",
        description:
          "Events in ts order (then detection order), oldest first, within from..to inclusive, at most `limit` of them. Filters combine with AND.",
        querystring: EventsQuerySchema,
        response: { 200: EventListSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const { vehicle_id, geofence_id, type, limit } = request.query;
      const filter: EventFilter = {
        ...timeWindow(request.query),
        limit: limit ?? DEFAULT_HISTORY_LIMIT,
      };
      if (vehicle_id !== undefined) filter.vehicle_id = vehicle_id;
      if (geofence_id !== undefined) filter.geofence_id = geofence_id;
      if (type !== undefined) filter.type = type;
      const events = await deps.store.events(filter);
      return { events: events.map(toWireEvent) };
    },
  );
};
