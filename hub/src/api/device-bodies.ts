// How the device and import routes read bodies and answer: whatever the Content-Type (apps and
// trackers label them loosely), as text within a limit, for the route's own decoder; errors in
// the contract's shape with messages about these routes rather than geofences.

import type { Fix, Reject } from "@locus/protocol";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import secureJson from "secure-json-parse";
import type { ApiDeps } from "./deps.ts";
import { ApiError, badRequest, errorBody } from "./errors.ts";

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
      // Thrown only by the bearer-token hook (imports); devices' own 401s invite HTTP Basic.
      if (err.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="locus"');
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

/**
 * A device's JSON body, with `__proto__` and `constructor.prototype` keys removed (apps never send
 * them; a body that does is still read); invalid JSON answers 400 with `hint` after the reason.
 */
export function parseDeviceJson(text: string, hint = ""): unknown {
  try {
    return secureJson.parse(text, undefined, {
      protoAction: "remove",
      constructorAction: "remove",
    });
  } catch (err) {
    throw badRequest(`the body is not valid JSON (${(err as Error).message})${hint}`);
  }
}

/** Whether the request says its body is JSON (application/json, …+json). */
export function saysJson(request: FastifyRequest): boolean {
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || type.endsWith("+json");
}

/** Stores a device's fixes; a commit that fails answers 503, and the device sends them again. */
export async function storeDeviceFixes(
  deps: Pick<ApiDeps, "devices">,
  fixes: readonly Fix[],
  source: "owntracks" | "osmand",
): Promise<void> {
  try {
    await deps.devices?.submit(fixes, source);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ApiError(
      "LOCUS_UNAVAILABLE",
      503,
      `the fixes could not be stored (${why}): send them again later`,
    );
  }
}

/** The message a request whose every location was refused gets. */
export function refusedLocations(rejects: readonly Reject[]): ApiError {
  const reasons = [...new Set(rejects.map((r) => r.reason))].join(", ");
  return badRequest(
    `no location could be read (${reasons}): see docs/devices.md for the fields and their units`,
  );
}
