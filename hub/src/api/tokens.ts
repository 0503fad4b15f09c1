// REST tokens (CONTRACT §5): issued with a role (admin or read), shown once, kept as digests,
// listed without secrets, and deleted to stop them at once.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { formatTs, isVehicleId } from "@locus/protocol";
import Type from "typebox";
import { accountCall } from "./account-errors.ts";
import {
  IssuedTokenSchema,
  TokenInputSchema,
  TokenListSchema,
  TokenNameParamsSchema,
} from "./account-schemas.ts";
import type { ApiDeps } from "./deps.ts";
import { fetchPage } from "./pagination.ts";
import { AUTHENTICATED_ERRORS, ErrorSchema, PageQuerySchema } from "./schemas.ts";

const TAGS = ["tokens"];

export const tokenRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    "/tokens",
    {
      schema: {
        tags: TAGS,
        summary: "Issue a REST token",
        description:
          "An `admin` token may do everything; a `read` token only GET and HEAD (anything else: 403). The token works at once and is shown in this answer only: the hub keeps its SHA-256 digest. The hub's own token (LOCUS_API_TOKEN or the data dir's) is an admin token that is not listed here.",
        body: TokenInputSchema,
        response: {
          201: IssuedTokenSchema,
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { name, role } = request.body;
      const issued = await accountCall(deps.accounts.createToken(name, role));
      reply.code(201);
      return { name, role, token: issued.token };
    },
  );

  app.get(
    "/tokens",
    {
      schema: {
        tags: TAGS,
        summary: "List issued REST tokens",
        description: "A page of issued tokens by name, without the tokens themselves.",
        querystring: PageQuerySchema,
        response: { 200: TokenListSchema, ...AUTHENTICATED_ERRORS },
      },
    },
    async (request) => {
      const page = await fetchPage(
        request.query,
        (p) => deps.accounts.listTokens(p),
        (t) => t.name,
        isVehicleId,
      );
      const list: {
        tokens: { name: string; role: "admin" | "read"; created_at: string }[];
        next_cursor?: string;
      } = {
        tokens: page.items.map((t) => ({
          name: t.name,
          role: t.role,
          created_at: formatTs(t.created_at),
        })),
      };
      if (page.nextCursor !== undefined) list.next_cursor = page.nextCursor;
      return list;
    },
  );

  app.delete(
    "/tokens/:name",
    {
      schema: {
        tags: TAGS,
        summary: "Delete an issued REST token",
        description: "The token stops working at once.",
        params: TokenNameParamsSchema,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...AUTHENTICATED_ERRORS,
          403: ErrorSchema,
          404: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      await accountCall(deps.accounts.deleteToken(request.params.name));
      return reply.code(204).send(null);
    },
  );
};
