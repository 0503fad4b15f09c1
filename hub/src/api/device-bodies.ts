// How the device and import routes read bodies: whatever the Content-Type (apps and trackers
// label them loosely), as text within a limit, for the route's own decoder; and errors in the
// contract's shape with messages about these routes rather than geofences.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, errorBody } from "./errors.ts";

/**
 * Makes every body in `app`'s scope a string (an empty body: ""), of at most `limit` bytes; a
 * larger one gets 413 naming the limit and `what` to send instead.
 */
export function installTextBodies(app: FastifyInstance, limit: number, what: string): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: limit }, (_request, body, done) => {
    done(null, typeof body === "string" ? body : body.toString("utf8"));
  });
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message));
    }
    const status = typeof err.statusCode === "number" ? err.statusCode : 500;
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return reply
        .code(413)
        .send(errorBody(413, `the body is larger than the limit of ${limit} bytes: ${what}`));
    }
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(status, err.message));
    }
    request.log.error({ err }, "request failed");
    return reply.code(500).send(errorBody(500, "internal error"));
  });
}

/** The body as text: "" when there was none. */
export function bodyText(request: FastifyRequest): string {
  return typeof request.body === "string" ? request.body : "";
}

/** Whether the request says its body is JSON (application/json, …+json). */
export function saysJson(request: FastifyRequest): boolean {
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || type.endsWith("+json");
}
