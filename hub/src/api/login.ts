// POST /api/v1/login: the page exchanges a one-time login link's code for the hub's admin token,
// so a newcomer opens the map from the link the hub printed without copying the token. Public (the
// code is the credential); the code travels in a body, never in a URL the server sees.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import Type from "typebox";
import type { ApiDeps } from "./deps.ts";
import { unauthorized } from "./errors.ts";
import { ErrorSchema } from "./schemas.ts";

const LoginBodySchema = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 128, description: "The code after #login=" }) },
  { additionalProperties: false },
);

const LoginAnswerSchema = Type.Object({
  token: Type.String({ description: "The hub's admin token: keep it for the browser session" }),
  role: Type.Literal("admin"),
});

export const loginRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    "/login",
    {
      schema: {
        tags: ["tokens"],
        summary: "Redeem a one-time login link",
        description:
          "The hub prints a link `…/#login=CODE` when it starts (the demo always; `npm start` too). The map posts the code here and gets the admin token. A code works once and for 15 minutes. No token needed.",
        security: [],
        body: LoginBodySchema,
        response: { 200: LoginAnswerSchema, 400: ErrorSchema, 401: ErrorSchema },
      },
    },
    async (request) => {
      if (!deps.loginLinks.redeem(request.body.code)) {
        throw unauthorized(
          "this login link is unknown, used or expired (a link works once, for 15 minutes): ask the hub for a new one by restarting it, or log in with the API token",
        );
      }
      return { token: deps.token, role: "admin" as const };
    },
  );
};
