// MQTT client accounts (CONTRACT §3, §5): event consumers and observers, created with a password
// shown once, listed without secrets, and deleted with their sessions.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { formatTs, isVehicleId } from "@locus/protocol";
import Type from "typebox";
import { accountCall } from "./account-errors.ts";
import {
  ClientInputSchema,
  ClientListSchema,
  ClientNameParamsSchema,
  IssuedClientSchema,
} from "./account-schemas.ts";
import type { ApiDeps } from "./deps.ts";
import { fetchPage } from "./pagination.ts";
import { AUTHENTICATED_ERRORS, ErrorSchema, PageQuerySchema } from "./schemas.ts";

const TAGS = ["clients"];

export const clientRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    "/clients",
    {
      schema: {
        tags: TAGS,
        summary: "Create an MQTT client account",
        description:
          "An account for a program that consumes MQTT: role `events` may subscribe to locus/geofence/events, role `observer` also to every vehicle's location and status. Neither may publish. The password is shown in this answer only. The name is the MQTT username: it may not be a vehicle's id (409).",
        body: ClientInputSchema,
        response: {
          201: IssuedClientSchema,
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          409: ErrorSchema,
          501: ErrorSchema,
          502: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { name, role } = request.body;
      const issued = await accountCall(deps.accounts.createClient(name, role));
      reply.code(201);
      return { name, role, mqtt: { username: name, password: issued.password } };
    },
  );

  app.get(
    "/clients",
    {
      schema: {
        tags: TAGS,
        summary: "List MQTT client accounts",
        description: "A page of client accounts by name, without their passwords.",
        querystring: PageQuerySchema,
        response: { 200: ClientListSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const page = await fetchPage(
        request.query,
        (p) => deps.accounts.listClients(p),
        (a) => a.username,
        isVehicleId,
      );
      const list: {
        clients: { name: string; role: "events" | "observer"; created_at: string }[];
        next_cursor?: string;
      } = {
        clients: page.items.map((a) => ({
          name: a.username,
          role: a.role ?? "events",
          created_at: formatTs(a.created_at),
        })),
      };
      if (page.nextCursor !== undefined) list.next_cursor = page.nextCursor;
      return list;
    },
  );

  app.delete(
    "/clients/:name",
    {
      schema: {
        tags: TAGS,
        summary: "Delete an MQTT client account",
        description: "Its password stops working and its live sessions are disconnected.",
        params: ClientNameParamsSchema,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await accountCall(deps.accounts.deleteClient(request.params.name));
      return reply.code(204).send(null);
    },
  );
};
