// The API's errors: coded errors with an HTTP status, and the one place that turns any error into
// the contract's `{"statusCode","error","message"}` JSON, with a message that says what to fix.

import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** An error the API answers with its own status and message; `code` names it for logs and tests. */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function badRequest(message: string): ApiError {
  return new ApiError("LOCUS_BAD_REQUEST", 400, message);
}

export function unauthorized(message: string): ApiError {
  return new ApiError("LOCUS_UNAUTHORIZED", 401, message);
}

export function notFound(message: string): ApiError {
  return new ApiError("LOCUS_NOT_FOUND", 404, message);
}

/** The body every error answer carries. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? "Error", message };
}

/** Shortens text taken from a request before it is echoed in a message. */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

// Fastify's own errors by code, with messages that tell the client what to do instead.
function fastifyMessage(err: FastifyError, request: FastifyRequest, bodyLimit: number): string {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return `request body is larger than the limit of ${bodyLimit} bytes: send a smaller body (for a geofence, fewer vertices)`;
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return `unsupported Content-Type ${quote(request.headers["content-type"] ?? "")}: send the body as application/json`;
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the body is empty but Content-Type is application/json: send a JSON body, or no Content-Type header";
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return "Content-Length does not match the body: send the body's exact length";
    default:
      // The JSON parser's SyntaxError, and the prototype-poisoning guard, carry no code.
      if (err instanceof SyntaxError) return `the body is not valid JSON (${err.message})`;
      return err.message;
  }
}

/**
 * Fastify's `frameworkErrors` option: the errors its router raises before any route or hook runs
 * (a path with broken percent-encoding, a path segment over the router's length limit) answered in
 * the contract's error shape like every other error, instead of fastify's own body.
 */
export function frameworkErrors(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const path = quote(request.raw.url?.split("?")[0] ?? "");
  let status = typeof err.statusCode === "number" ? err.statusCode : 500;
  let message: string;
  switch (err.code) {
    case "FST_ERR_BAD_URL":
      message = `the path ${path} has broken percent-encoding: encode each path segment as UTF-8, e.g. with encodeURIComponent`;
      break;
    // 100: the router's maxParamLength, left at its default.
    case "FST_ERR_MAX_PARAM_LENGTH":
      message = `the path ${path} has a segment over 100 characters, longer than any id this API gives out: check the id`;
      break;
    default:
      status = 500;
      message = "internal error";
      request.log.error({ err }, "request failed in routing");
  }
  return reply.code(status).send(errorBody(status, message));
}

/** Installs the error and not-found handlers on the root instance; every route inherits them. */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      if (err.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="locus"');
      return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message));
    }
    const status = typeof err.statusCode === "number" ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(status, fastifyMessage(err, request, bodyLimit)));
    }
    request.log.error({ err }, "request failed");
    return reply.code(500).send(errorBody(500, "internal error"));
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "";
    reply
      .code(404)
      .send(
        errorBody(
          404,
          `no route ${request.method} ${quote(path)}: see /docs or /openapi.json for the API`,
        ),
      );
  });
}
