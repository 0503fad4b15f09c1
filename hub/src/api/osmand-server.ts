// The OsmAnd protocol on its own port (LOCUS_OSMAND_PORT, CONTRACT §2, §9), at `/` as trackers
// expect (Traccar's is 5055): the same handler as /api/v1/osmand, and nothing else on that port.

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { ApiDeps } from "./deps.ts";
import { frameworkErrors, installErrorHandling } from "./errors.ts";
import { OSMAND_BODY_LIMIT, osmAndRoutes } from "./osmand.ts";

export interface OsmAndServerOptions {
  logger: FastifyBaseLogger;
  /** PEM certificate and key: served over HTTPS, as the API is. */
  https: { cert: string; key: string } | null;
}

/** Builds the server (not listening yet): the caller listens on the configured host and port. */
export async function buildOsmAndServer(
  deps: Pick<ApiDeps, "store" | "accounts" | "devices">,
  options: OsmAndServerOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    ...(options.https ? { https: options.https } : {}),
    bodyLimit: OSMAND_BODY_LIMIT,
    frameworkErrors,
  });
  installErrorHandling(app, OSMAND_BODY_LIMIT);
  await app.register(osmAndRoutes, { deps, path: "/" });
  return app as unknown as FastifyInstance;
}
