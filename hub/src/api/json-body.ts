// How the API reads request bodies: JSON and GeoJSON only, an empty body as no body, and
// (for a scope that asks) some bodies kept as text for a worker thread to parse.

import type { FastifyInstance, FastifyRequest } from "fastify";

const JSON_TYPES = ["application/json", "application/geo+json"];

/**
 * Installs the JSON body parser in `app`'s scope. An empty JSON body (some clients label a
 * bodiless DELETE as JSON) is no body, not an error; routes that need one say so. GeoJSON's own
 * media type is JSON all the same. `keep` may claim a body before it is parsed: what it returns
 * becomes the request's body instead.
 */
export function installJsonBodies(
  app: FastifyInstance,
  keep?: (request: FastifyRequest, text: string) => object | undefined,
): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  for (const type of JSON_TYPES) {
    if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
  }
  app.addContentTypeParser(JSON_TYPES, { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    const kept = keep?.(request, text);
    if (kept !== undefined) done(null, kept);
    else parseJson(request, text, done);
  });
}
