// Who a phone or tracker is (CONTRACT §9): HTTP Basic with the vehicle's id and its MQTT password,
// or the password as a parameter (trackers that cannot send headers), checked by the account
// service as an MQTT login is. Without credentials, a device is taken only where anonymous MQTT
// clients are allowed, and only from a loopback address. These endpoints are outside the bearer
// token: devices hold a vehicle's password, never an API token.

import type { FastifyReply, FastifyRequest } from "fastify";
import type { AccountService } from "../identity/accounts.ts";
import type { Store } from "../store/store.ts";
import { errorBody, quote } from "./errors.ts";

export type DeviceIdentity =
  /** Logged in as this vehicle. */
  | { kind: "vehicle"; id: string }
  /** No credentials, and the hub takes such devices from here: any vehicle id it names. */
  | { kind: "anonymous" }
  /** Refused: answer with this status and message. */
  | { kind: "refused"; status: 400 | 401 | 403; message: string };

export interface DeviceCredentials {
  /** The vehicle id the device names (Basic user name, `id`, `X-Limit-U`), or null. */
  claimedId: string | null;
  /** A password sent as a parameter rather than in HTTP Basic, or null. */
  passwordParam: string | null;
}

/** The user name and password of an `Authorization: Basic …` header, or null. */
export function basicCredentials(
  header: string | undefined,
): { user: string; password: string } | null {
  if (header === undefined) return null;
  const match = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Whether the request comes from this machine (the socket's address; no proxy is trusted). */
export function fromLoopback(request: FastifyRequest): boolean {
  const ip = request.socket?.remoteAddress ?? request.ip ?? "";
  return ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}

/**
 * Decides who the device is. `unknownStatus` is what a device id without an account gets:
 * 400 for the OsmAnd protocol (what its trackers expect for an unknown device), 401 elsewhere.
 */
export async function identifyDevice(
  request: FastifyRequest,
  deps: { accounts: AccountService; store: Store; allowAnonymous: boolean },
  credentials: DeviceCredentials,
  unknownStatus: 400 | 401,
): Promise<DeviceIdentity> {
  const header = request.headers.authorization;
  const basic = basicCredentials(header);
  if (header !== undefined && header !== "" && basic === null) {
    return refused(
      401,
      "the Authorization header is not HTTP Basic: send Authorization: Basic base64(vehicle id:password), the password issued by POST /api/v1/vehicles",
    );
  }
  const password = basic?.password ?? credentials.passwordParam;
  if (password === null || password === "") {
    if (deps.allowAnonymous && fromLoopback(request)) return { kind: "anonymous" };
    return refused(
      401,
      "credentials required: send HTTP Basic with the vehicle id and the password issued by POST /api/v1/vehicles (or the password parameter)",
    );
  }
  const user = basic?.user || credentials.claimedId;
  if (user === null || user === "") {
    return refused(
      400,
      "no device id: send the vehicle id as the HTTP Basic user name or the id parameter",
    );
  }
  if (credentials.claimedId !== null && credentials.claimedId !== user) {
    return refused(
      403,
      `the credentials are those of ${quote(user)} but the request names the device ${quote(credentials.claimedId)}: a device sends only its own fixes`,
    );
  }
  const principal = await deps.accounts.authenticate(user, Buffer.from(password, "utf8"));
  if (principal?.kind === "vehicle") return { kind: "vehicle", id: principal.id };
  if (principal !== null) {
    return refused(403, `${quote(user)} is not a vehicle: only vehicles send fixes`);
  }
  if ((await deps.store.accounts.getAccount(user)) === null) {
    return refused(
      unknownStatus,
      `unknown device ${quote(user)}: register it with POST /api/v1/vehicles and use the password it answers`,
    );
  }
  return refused(
    401,
    `wrong password for ${quote(user)}: use the password issued by POST /api/v1/vehicles (or its latest rotation)`,
  );
}

function refused(status: 400 | 401 | 403, message: string): DeviceIdentity {
  return { kind: "refused", status, message };
}

/** Answers a refusal; a 401 invites HTTP Basic, the scheme these endpoints take. */
export function sendRefusal(
  reply: FastifyReply,
  identity: Extract<DeviceIdentity, { kind: "refused" }>,
): FastifyReply {
  if (identity.status === 401) reply.header("www-authenticate", 'Basic realm="locus"');
  return reply.code(identity.status).send(errorBody(identity.status, identity.message));
}
