// The HTTP application: REST API (CONTRACT §5), metrics, OpenAPI docs and the start page, as one
// fastify instance that the hub listens with and tests inject into.

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { bearerAuth } from "./auth.ts";
import { clientRoutes } from "./clients.ts";
import type { ApiDeps } from "./deps.ts";
import { registerDocs, registerOpenApi } from "./docs.ts";
import { frameworkErrors, installErrorHandling } from "./errors.ts";
import { eventRoutes } from "./events.ts";
import { geofenceRoutes } from "./geofences.ts";
import { healthRoutes } from "./health.ts";
import { importRoutes } from "./imports.ts";
import { installJsonBodies } from "./json-body.ts";
import { loginRoutes } from "./login.ts";
import { metricsRoutes } from "./metrics.ts";
import { osmAndRoutes } from "./osmand.ts";
import { ownTracksRoutes } from "./owntracks.ts";
import { rootPage } from "./root.ts";
import { streamRoutes } from "./stream.ts";
import { tokenRoutes } from "./tokens.ts";
import { validatorCompiler } from "./validation.ts";
import { vehicleRoutes } from "./vehicles.ts";
import { webhookRoutes } from "./webhooks.ts";

export interface ApiOptions {
  /** false (default): silent; true or pino options: a new logger; a logger instance: used as is. */
  logger?: boolean | object;
  /** PEM certificate and key: the app is served over HTTPS (inject() is unaffected). */
  https?: { cert: string; key: string } | null;
}

const API_PREFIX = "/api/v1";

function isLoggerInstance(logger: unknown): logger is FastifyBaseLogger {
  return (
    typeof logger === "object" &&
    logger !== null &&
    typeof (logger as { child?: unknown }).child === "function" &&
    typeof (logger as { info?: unknown }).info === "function"
  );
}

/** Builds the HTTP application on the given dependencies; the caller listens or injects. */
export async function buildApi(deps: ApiDeps, options: ApiOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? false;
  const app = Fastify({
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger }),
    ...(options.https ? { https: options.https } : {}),
    bodyLimit: deps.bodyLimitBytes,
    frameworkErrors,
    routerOptions: { ignoreTrailingSlash: true },
    // Long arrays (a ring of a big geofence, a full page of history) are written by the native
    // JSON.stringify, many times faster than the generated per-item loop. Every answer is built
    // field by field from typed objects, so nothing outside the schema can slip through.
    serializerOpts: { largeArrayMechanism: "json-stringify", largeArraySize: 1000 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app, deps.bodyLimitBytes);
  // Bodies are JSON only: anything else gets 415 rather than reaching a schema as a string.
  app.removeContentTypeParser("text/plain");
  installJsonBodies(app);

  await registerOpenApi(app);
  await registerDocs(app);
  await app.register(rootPage, { styleUrl: deps.mapStyleUrl ?? null });
  await app.register(healthRoutes, { prefix: API_PREFIX, deps });
  await app.register(loginRoutes, { prefix: API_PREFIX, deps });
  // The stream authenticates with its first message, not a header (tokens never go in URLs).
  await app.register(streamRoutes, { prefix: API_PREFIX, deps });
  // Phones and trackers hold a vehicle's password, not a token (CONTRACT §9).
  await app.register(ownTracksRoutes, { prefix: API_PREFIX, deps });
  await app.register(osmAndRoutes, { prefix: API_PREFIX, deps, path: "/osmand" });

  // Everything that holds data needs the token.
  await app.register(async (data) => {
    data.addHook("onRequest", bearerAuth(deps.token, deps.accounts));
    await data.register(geofenceRoutes, { prefix: API_PREFIX, deps });
    await data.register(vehicleRoutes, { prefix: API_PREFIX, deps });
    await data.register(importRoutes, { prefix: API_PREFIX, deps });
    await data.register(eventRoutes, { prefix: API_PREFIX, deps });
    await data.register(clientRoutes, { prefix: API_PREFIX, deps });
    await data.register(tokenRoutes, { prefix: API_PREFIX, deps });
    if (deps.webhooks !== undefined) {
      await data.register(webhookRoutes, { prefix: API_PREFIX, deps, webhooks: deps.webhooks });
    }
    await data.register(metricsRoutes, { deps });
  });

  return app;
}
