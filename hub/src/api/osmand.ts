// GET and POST /api/v1/osmand, and `/` on LOCUS_OSMAND_PORT: the OsmAnd protocol of Traccar Client
// and many trackers (CONTRACT §9). Query string, form body or JSON; the device authenticates with
// its password as HTTP Basic or the `password` parameter. Answers as the protocol's trackers
// expect: 200 with an empty body when the position is taken, 400 for an unknown device or a
// request that cannot be read (they keep such positions and try again, or drop them).

import { decodeOsmAndJson, decodeOsmAndParams, type OsmAndMessage } from "@locus/protocol";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { ApiDeps } from "./deps.ts";
import { identifyDevice, sendRefusal } from "./device-auth.ts";
import {
  bodyText,
  installTextBodies,
  parseDeviceJson,
  refusedLocations,
  saysJson,
  storeDeviceFixes,
} from "./device-bodies.ts";
import { badRequest } from "./errors.ts";

/** A position is well under 1 KiB; a JSON batch of 1000 fits in this. */
export const OSMAND_BODY_LIMIT = 1024 * 1024;

const DEVICE_PROBLEMS = {
  missing_device_id:
    "no device id: send the vehicle id as the id (or deviceid) parameter, or device_id in JSON",
  invalid_vehicle_id: "the device id is not a vehicle id: use 1-64 characters of A-Z a-z 0-9 _ . -",
} as const;

/** The first value of each parameter: the form body's, else the query's. */
function paramsOf(request: FastifyRequest, form: URLSearchParams | null) {
  const query = (request.query ?? {}) as Record<string, unknown>;
  return (name: string): string | undefined => {
    const fromForm = form?.get(name);
    if (fromForm !== null && fromForm !== undefined) return fromForm;
    const value = query[name];
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === "string" ? first : undefined;
  };
}

export interface OsmAndRouteOptions {
  deps: Pick<ApiDeps, "store" | "accounts" | "devices">;
  /** Where the protocol is served: `/osmand` under the API prefix, `/` on its own port. */
  path: string;
}

export const osmAndRoutes: FastifyPluginAsync<OsmAndRouteOptions> = async (app, { deps, path }) => {
  const devices = deps.devices;
  if (devices === undefined) return;
  installTextBodies(
    app,
    OSMAND_BODY_LIMIT,
    "send one position per request, or a JSON batch of at most 1000",
  );

  app.route({
    method: ["GET", "POST"],
    url: path,
    schema: {
      tags: ["devices"],
      summary: "OsmAnd protocol (Traccar Client and trackers)",
      description:
        "Query (`id`, `lat`, `lon`, `timestamp`, `speed` in knots, `bearing`, `altitude`, `accuracy`), form body, or Traccar Client's JSON (speed in m/s). Password as HTTP Basic or the `password` parameter. Answers 200 with an empty body.",
    },
    handler: async (request, reply) => {
      const text = bodyText(request);
      const json = text.trim() !== "" && (saysJson(request) || text.trimStart().startsWith("{"));
      const form = text.trim() !== "" && !json ? new URLSearchParams(text) : null;
      const param = paramsOf(request, form);
      const times = devices.times();
      let message: OsmAndMessage;
      if (json) {
        const value = parseDeviceJson(text);
        message = decodeOsmAndJson(value, times, param("id") ?? param("deviceid"));
      } else {
        message = decodeOsmAndParams(param, times);
      }
      if (message.deviceId === null) {
        if (message.deviceProblem !== null)
          throw badRequest(DEVICE_PROBLEMS[message.deviceProblem]);
        throw refusedLocations(message.rejects);
      }
      const identity = await identifyDevice(
        request,
        { accounts: deps.accounts, store: deps.store, allowAnonymous: devices.allowAnonymous },
        { claimedId: message.deviceId, passwordParam: param("password") ?? null },
        400,
      );
      if (identity.kind === "refused") return sendRefusal(reply, identity);
      devices.rejected(message.rejects);
      if (message.fixes.length === 0 && message.rejects.length > 0) {
        throw refusedLocations(message.rejects);
      }
      await storeDeviceFixes(deps, message.fixes, "osmand");
      return reply.code(200).send();
    },
  });
};
