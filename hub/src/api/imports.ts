// POST /api/v1/vehicles/{id}/locations: imports a vehicle's history (CONTRACT §5) from GPX,
// GeoJSON or a JSON array of §3 fixes. Imported fixes go through the pipeline like any other
// (deduplicated, judged by §4: older than the vehicle's newest fix, stored without events), a
// chunk at a time so live fixes keep flowing while a large import is written.

import { isVehicleId } from "@locus/protocol";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { IMPORT_CHUNK } from "../ingest/device-fixes.ts";
import {
  ImportError,
  type ImportFormat,
  MAX_IMPORT_POINTS,
  parseImport,
} from "../ingest/import-parse.ts";
import type { ApiDeps } from "./deps.ts";
import { bodyText, installTextBodies } from "./device-bodies.ts";
import { ApiError, badRequest, quote } from "./errors.ts";

/** Largest import body: about 100,000 GPX track points. */
export const IMPORT_BODY_LIMIT = 16 * 1024 * 1024;

const FORMATS: Record<string, ImportFormat> = {
  "application/gpx+xml": "gpx",
  "application/xml": "gpx",
  "text/xml": "gpx",
  "application/geo+json": "geojson",
  "application/json": "json",
};

/** The import's format from its Content-Type (a JSON object sent as application/json is GeoJSON). */
function formatOf(request: FastifyRequest, text: string): ImportFormat {
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const format = FORMATS[type];
  if (format === undefined) {
    throw new ApiError(
      "LOCUS_UNSUPPORTED_MEDIA_TYPE",
      415,
      `unsupported Content-Type ${quote(type)}: send application/gpx+xml (GPX), application/geo+json (GeoJSON) or application/json (an array of fixes)`,
    );
  }
  if (format === "json" && text.trimStart().startsWith("{")) return "geojson";
  return format;
}

export const importRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const devices = deps.devices;
  if (devices === undefined) return;
  installTextBodies(
    app,
    IMPORT_BODY_LIMIT,
    `split the import (at most ${MAX_IMPORT_POINTS} points)`,
  );

  app.post<{ Params: { id: string } }>(
    "/vehicles/:id/locations",
    {
      schema: {
        tags: ["vehicles"],
        summary: "Import a vehicle's history",
        response: {
          200: {
            type: "object",
            required: ["accepted", "rejected"],
            properties: {
              accepted: {
                type: "integer",
                description: "Fixes taken (a fix stored before is taken and stored once)",
              },
              rejected: {
                type: "array",
                items: {
                  type: "object",
                  required: ["index", "reason"],
                  properties: { index: { type: "integer" }, reason: { type: "string" } },
                },
              },
            },
          },
        },
        description: `GPX (application/gpx+xml), GeoJSON (application/geo+json: Points with properties.ts, or LineStrings with per-position times) or a JSON array of fixes (application/json). At most ${IMPORT_BODY_LIMIT} bytes and ${MAX_IMPORT_POINTS} points. Judged like any fix: older than the vehicle's newest fix, stored without events.`,
      },
    },
    async (request) => {
      const vehicleId = request.params.id;
      if (!isVehicleId(vehicleId)) {
        throw badRequest(
          `${quote(vehicleId)} is not a vehicle id: use 1-64 characters of A-Z a-z 0-9 _ . -`,
        );
      }
      const text = bodyText(request);
      if (text.trim() === "")
        throw badRequest("the body is empty: send a GPX file, GeoJSON or an array of fixes");
      const format = formatOf(request, text);
      let parsed: ReturnType<typeof parseImport>;
      try {
        parsed = parseImport(format, text, vehicleId, {
          ...devices.times(),
          maxBytes: IMPORT_BODY_LIMIT,
        });
      } catch (err) {
        if (err instanceof ImportError)
          throw new ApiError("LOCUS_BAD_IMPORT", err.status, err.message);
        throw err;
      }
      try {
        await devices.submitImport(parsed.fixes, IMPORT_CHUNK);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new ApiError(
          "LOCUS_UNAVAILABLE",
          503,
          `the import could not be stored (${why}); fixes committed before the failure are kept, and sending the whole import again stores the rest once`,
        );
      }
      return { accepted: parsed.fixes.length, rejected: parsed.rejected };
    },
  );
};
