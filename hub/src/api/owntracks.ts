// POST /api/v1/owntracks: the OwnTracks app in HTTP mode (CONTRACT §9). It POSTs the JSON it would
// publish over MQTT, with HTTP Basic (the vehicle's id and password) and the headers X-Limit-U
// (user) and X-Limit-D (device); the answer is 200 `[]` (the app reads it as "nothing for you").

import {
  decodeOwnTracksMessage,
  type Fix,
  MAX_BATCH,
  parseOwnTracksTopic,
  type Reject,
} from "@locus/protocol";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { ApiDeps } from "./deps.ts";
import { identifyDevice, sendRefusal } from "./device-auth.ts";
import {
  bodyText,
  installTextBodies,
  parseDeviceJson,
  refusedLocations,
  storeDeviceFixes,
} from "./device-bodies.ts";
import { badRequest } from "./errors.ts";

/** One OwnTracks message is a few hundred bytes; this leaves room for a queue sent at once. */
export const OWNTRACKS_BODY_LIMIT = 256 * 1024;

function header(request: FastifyRequest, name: string): string | null {
  const value = request.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === "" ? null : text;
}

function queryParam(request: FastifyRequest, name: string): string | null {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  const text = Array.isArray(value) ? value[0] : value;
  return typeof text === "string" && text !== "" ? text : null;
}

/** The user a message names in its `topic` field (`owntracks/{user}/{device}`), or null. */
function topicUser(messages: readonly unknown[]): string | null {
  for (const m of messages) {
    const topic = (m as { topic?: unknown } | null)?.topic;
    if (typeof topic === "string") {
      const parsed = parseOwnTracksTopic(topic);
      if (parsed !== null) return parsed.user;
    }
  }
  return null;
}

export const ownTracksRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const devices = deps.devices;
  if (devices === undefined) return;
  installTextBodies(app, OWNTRACKS_BODY_LIMIT, "send one OwnTracks message per request");

  app.post(
    "/owntracks",
    {
      schema: {
        tags: ["devices"],
        summary: "OwnTracks app, HTTP mode",
        description:
          "The OwnTracks JSON (`_type: location` is a fix; other types are ignored) with HTTP Basic: the vehicle's id and password. Answers 200 `[]`.",
      },
    },
    async (request, reply) => {
      const claimed = header(request, "x-limit-u") ?? queryParam(request, "u");
      // Who is asking comes first: a stranger learns nothing about the body it sent.
      const identity = await identifyDevice(
        request,
        { accounts: deps.accounts, store: deps.store, allowAnonymous: devices.allowAnonymous },
        { claimedId: claimed, passwordParam: null },
        401,
      );
      if (identity.kind === "refused") return sendRefusal(reply, identity);
      const text = bodyText(request);
      let messages: unknown[] = [];
      if (text.trim() !== "") {
        const value = parseDeviceJson(text, ": send the OwnTracks message as the app writes it");
        messages = Array.isArray(value) ? value : [value];
        if (messages.length > MAX_BATCH) {
          throw badRequest(`${messages.length} messages in one request: send at most ${MAX_BATCH}`);
        }
      }
      const vehicleId =
        identity.kind === "vehicle" ? identity.id : (claimed ?? topicUser(messages));
      const fixes: Fix[] = [];
      const rejects: Reject[] = [];
      if (messages.length > 0 && vehicleId === null) {
        const locations = messages.some(
          (m) => (m as { _type?: unknown } | null)?._type === "location",
        );
        if (locations) {
          throw badRequest(
            "no vehicle named: send HTTP Basic credentials, the X-Limit-U header, or a topic field owntracks/{vehicle id}/{device}",
          );
        }
      }
      const times = devices.times();
      messages.forEach((m, index) => {
        const result = decodeOwnTracksMessage(m, vehicleId ?? "", times);
        if (result.kind === "fix") fixes.push(result.fix);
        else if (result.kind === "rejected") rejects.push({ index, reason: result.reason });
      });
      devices.rejected(rejects);
      if (fixes.length === 0 && rejects.length > 0) throw refusedLocations(rejects);
      await storeDeviceFixes(deps, fixes, "owntracks");
      return reply.code(200).type("application/json").send("[]");
    },
  );
};
