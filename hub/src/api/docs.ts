// The OpenAPI document (generated from the route schemas) at /openapi.json, and Swagger UI at
// /docs. Neither holds data, so neither needs the token.

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

/** Registers the OpenAPI generator. Must be registered before any route it should document. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Locus API",
        version: "1.0.0",
        description:
          "Real-time fleet tracking and geofencing. Every /api/v1 route except GET /api/v1/health, and /metrics, needs `Authorization: Bearer <token>`. Errors are JSON `{statusCode, error, message}`.",
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: "http",
            scheme: "bearer",
            description: "The API token: printed by the hub at start, or set with LOCUS_API_TOKEN",
          },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: "geofences", description: "GeoJSON geofences" },
        { name: "vehicles", description: "Vehicles and their location history" },
        { name: "events", description: "Geofence events" },
        { name: "clients", description: "MQTT accounts of event consumers and observers" },
        { name: "tokens", description: "REST tokens and their roles" },
        { name: "webhooks", description: "Events POSTed to HTTP endpoints (docs/webhooks.md)" },
        { name: "stream", description: "Live updates over WebSocket (docs/stream.md)" },
        { name: "health", description: "Hub health" },
        { name: "metrics", description: "Prometheus metrics" },
      ],
    },
  });
}

/** Serves /openapi.json and the Swagger UI at /docs. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    uiConfig: { persistAuthorization: true, deepLinking: true },
  });
}
