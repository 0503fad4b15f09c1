// Bearer-token authentication (CONTRACT §2, §5): an onRequest hook for the routes that hold data.

import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { unauthorized } from "./errors.ts";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * A hook that refuses requests without `Authorization: Bearer <token>`. Tokens are compared as
 * SHA-256 digests in constant time, so neither the content nor the length of the token leaks.
 */
export function bearerAuth(token: string): onRequestAsyncHookHandler {
  const expected = digest(token);
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
    if (!timingSafeEqual(digest(match[1] ?? ""), expected)) {
      throw unauthorized(
        "wrong bearer token: use the token the hub printed at start (or the value of LOCUS_API_TOKEN)",
      );
    }
  };
}
