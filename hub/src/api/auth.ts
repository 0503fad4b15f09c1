// Bearer-token authentication and roles (CONTRACT §2, §5): an onRequest hook for the routes that
// hold data. The configured token (LOCUS_API_TOKEN or the data dir's) is an admin token; tokens
// issued through POST /api/v1/tokens are looked up by digest on every request.

import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import type { TokenRole } from "../identity/principal.ts";
import { ApiError, unauthorized } from "./errors.ts";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
/** What a `read` token may do. */
const READ_METHODS = new Set(["GET", "HEAD"]);

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Where issued tokens are looked up (the account service). */
export interface IssuedTokens {
  tokenRole(token: string): Promise<TokenRole | null>;
}

/** A token's role, or null when it is neither the configured token nor an issued one. */
export type TokenCheck = (token: string) => Promise<TokenRole | null>;

/**
 * Checks a token: the configured one is compared as SHA-256 digests in constant time, so neither
 * its content nor its length leaks; any other is looked up among the issued tokens. The
 * configured token is not a stored row: it cannot be listed or deleted through the API, only
 * changed where it is set (LOCUS_API_TOKEN, or the token file in the data dir).
 */
export function tokenCheck(configured: string, issued?: IssuedTokens): TokenCheck {
  const expected = digest(configured);
  return async (token) => {
    if (timingSafeEqual(digest(token), expected)) return "admin";
    return (await issued?.tokenRole(token)) ?? null;
  };
}

/**
 * A hook that refuses requests without `Authorization: Bearer <token>` of a known token (401),
 * and requests other than GET and HEAD with a `read` token (403).
 */
export function bearerAuth(configured: string, issued?: IssuedTokens): onRequestAsyncHookHandler {
  const check = tokenCheck(configured, issued);
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (header === undefined || header === "") {
      throw unauthorized(
        "missing bearer token: send the header Authorization: Bearer <token> (the hub prints its token at start; LOCUS_API_TOKEN sets it)",
      );
    }
    const match = BEARER.exec(header);
    if (match === null) {
      throw unauthorized(
        "the Authorization header is not of the form Bearer <token>: send Authorization: Bearer <token>",
      );
    }
    const role = await check(match[1] ?? "");
    if (role === null) {
      throw unauthorized(
        "wrong bearer token: use the token the hub printed at start (or the value of LOCUS_API_TOKEN), or one issued with POST /api/v1/tokens that has not been deleted",
      );
    }
    if (role === "read" && !READ_METHODS.has(request.method)) {
      throw new ApiError(
        "LOCUS_FORBIDDEN",
        403,
        `a read token may only GET: ${request.method} needs an admin token (the hub's own, or one issued with role "admin")`,
      );
    }
  };
}
