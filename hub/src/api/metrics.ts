// Prometheus metrics at /metrics, behind the bearer token like the data routes (CONTRACT §5).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import Type from "typebox";
import type { ApiDeps } from "./deps.ts";
import { ErrorSchema } from "./schemas.ts";

export const metricsRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (
  app,
  { deps },
) => {
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["metrics"],
        summary: "Prometheus metrics",
        description: "The hub's metrics in the Prometheus text exposition format.",
        produces: ["text/plain"],
        response: {
          200: Type.String({ description: "Prometheus text format" }),
          401: ErrorSchema,
        },
      },
    },
    async (_request, reply) => {
      const text = await deps.metrics.metrics();
      return reply.type(deps.metrics.contentType).send(text);
    },
  );
};
