// Health: whether the broker and the store can be reached and fixes are being committed. Public,
// so load balancers and orchestrators can probe it without the token.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import Type from "typebox";
import type { ApiDeps, HealthReport } from "./deps.ts";

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]),
  checks: Type.Record(Type.String(), Type.String(), {
    description: 'One entry per dependency (e.g. broker, store, ingest): "ok", or what is wrong',
  }),
});

export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    "/health",
    {
      schema: {
        tags: ["health"],
        summary: "Hub health",
        description:
          "200 when the broker and the store are reachable and fixes are being committed; else 503, each failing check saying why (a full disk, say). No token needed.",
        security: [],
        response: {
          200: Type.Object(HealthSchema.properties, { description: "Every check passed" }),
          503: Type.Object(HealthSchema.properties, { description: "Some check failed" }),
        },
      },
    },
    async (request, reply) => {
      let report: HealthReport;
      try {
        report = await deps.health();
      } catch (err) {
        request.log.error({ err }, "health check failed");
        report = { ok: false, checks: { hub: "health check failed" } };
      }
      return reply
        .code(report.ok ? 200 : 503)
        .send({ status: report.ok ? "ok" : "unavailable", checks: report.checks });
    },
  );
};
