// Decoding of incoming location messages: the hub's hot path, so plain hand-written checks with
// no schema interpretation per fix, and no input that can make it throw. LocationMessageSchema
// is the spec; spec.property.test.ts holds this decoder to it, reasons included.
import { type Fix, MAX_BATCH } from "./fix.ts";
import { parseTs } from "./time.ts";
import { parseLocationTopic, VEHICLE_ID_PATTERN } from "./topics.ts";

/** Why a message or a fix in it was dropped; metric labels, so the hub can register them all up front. */
export const REJECT_REASONS = [
  "bad_topic",
  "payload_too_large",
  "invalid_utf8",
  "invalid_json",
  "not_object",
  "empty_batch",
  "batch_too_large",
  "invalid_latitude",
  "invalid_longitude",
  "invalid_ts",
  "future_ts",
  "invalid_seq",
  "invalid_speed",
  "invalid_heading",
  "invalid_accuracy",
  "invalid_altitude",
  "invalid_vehicle_id",
  "vehicle_id_mismatch",
  // Not the decoder's: a status-topic payload other than online/offline (the hub counts it too).
  "invalid_status",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** A dropped fix (`index` its position in the batch, 0 for a single object) or message (`index` -1). */
export interface Reject {
  index: number;
  reason: RejectReason;
}

export interface DecodeResult {
  /** The topic's vehicle id; null only when the topic is not a location topic. */
  vehicle_id: string | null;
  /** Accepted fixes in message order. */
  fixes: Fix[];
  rejects: Reject[];
}

export interface DecodeOptions {
  /** Largest payload in bytes; checked before parsing. Default 262144 (256 KiB). */
  maxBytes?: number;
  /** Most fixes in one batch. Default 1000. */
  maxBatch?: number;
  /** Epoch ms given to fixes without ts. Default Date.now(). */
  receivedAt?: number;
  /**
   * Latest `ts` accepted, epoch ms; a later one is refused as `future_ts`. Default: no bound.
   * The receiver's clock plus a tolerance: one fix from the year 9999 would otherwise stay the
   * vehicle's newest forever, and every real fix after it would count as arriving late.
   */
  notAfter?: number;
}

/** Default payload limit: 256 KiB, ample for a full batch of 1000 fixes. */
export const DEFAULT_MAX_BYTES = 262_144;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function wholeMessage(vehicleId: string | null, reason: RejectReason): DecodeResult {
  return { vehicle_id: vehicleId, fixes: [], rejects: [{ index: -1, reason }] };
}

// UTF-8 never takes fewer bytes than UTF-16 code units, nor more than three per unit.
function stringTooLarge(s: string, maxBytes: number): boolean {
  if (s.length > maxBytes) return true;
  if (s.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(s, "utf8") > maxBytes;
}

/**
 * Decodes one MQTT message from `locus/vehicles/{id}/location` into fixes and rejects.
 * Never throws: whatever the topic or payload, the answer says what was kept and why the rest
 * was dropped. A JSON null in an optional field counts as absent; unknown fields are ignored.
 */
export function decodeLocationMessage(
  topic: string,
  payload: Uint8Array | string,
  options?: DecodeOptions,
): DecodeResult {
  const vehicleId = parseLocationTopic(topic);
  if (vehicleId === null) return wholeMessage(null, "bad_topic");

  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  if (typeof payload === "string") {
    if (stringTooLarge(payload, maxBytes)) return wholeMessage(vehicleId, "payload_too_large");
    text = payload;
  } else if (payload instanceof Uint8Array) {
    if (payload.byteLength > maxBytes) return wholeMessage(vehicleId, "payload_too_large");
    try {
      text = utf8.decode(payload);
    } catch {
      return wholeMessage(vehicleId, "invalid_utf8");
    }
  } else {
    return wholeMessage(vehicleId, "invalid_json");
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return wholeMessage(vehicleId, "invalid_json");
  }

  const receivedAt = options?.receivedAt ?? Date.now();
  const notAfter = options?.notAfter ?? Number.POSITIVE_INFINITY;
  const result: DecodeResult = { vehicle_id: vehicleId, fixes: [], rejects: [] };

  if (Array.isArray(value)) {
    const n = value.length;
    if (n === 0) return wholeMessage(vehicleId, "empty_batch");
    if (n > (options?.maxBatch ?? MAX_BATCH)) return wholeMessage(vehicleId, "batch_too_large");
    for (let i = 0; i < n; i++) decodeFix(value[i], i, vehicleId, receivedAt, notAfter, result);
  } else if (typeof value === "object" && value !== null) {
    decodeFix(value, 0, vehicleId, receivedAt, notAfter, result);
  } else {
    return wholeMessage(vehicleId, "not_object");
  }
  return result;
}

// JSON.parse hands back plain objects; fields are read by name only, never enumerated.
type Fields = Record<string, unknown>;

// JSON null in an optional field means the same as leaving it out.
function absent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

// Range checks fail for NaN on their own; the bounds keep Infinity out.
function isNumberIn(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && v >= min && v <= max;
}

function decodeFix(
  element: unknown,
  index: number,
  vehicleId: string,
  receivedAt: number,
  notAfter: number,
  out: DecodeResult,
): void {
  const fix = readFix(element, vehicleId, receivedAt, notAfter);
  if (typeof fix === "string") out.rejects.push({ index, reason: fix });
  else out.fixes.push(fix);
}

// One batch element as a Fix, or the first problem found with it. Every key of the Fix is set,
// in one order, so all fixes share one object shape.
function readFix(
  element: unknown,
  vehicleId: string,
  receivedAt: number,
  notAfter: number,
): Fix | RejectReason {
  if (typeof element !== "object" || element === null || Array.isArray(element)) {
    return "not_object";
  }
  const o = element as Fields;

  const vid = o.vehicle_id;
  // The topic's id is a valid one, so the pattern is only tried when the two differ.
  if (!absent(vid) && vid !== vehicleId) {
    return typeof vid === "string" && VEHICLE_ID_PATTERN.test(vid)
      ? "vehicle_id_mismatch"
      : "invalid_vehicle_id";
  }
  const latitude = o.latitude;
  if (!isNumberIn(latitude, -90, 90)) return "invalid_latitude";
  const longitude = o.longitude;
  if (!isNumberIn(longitude, -180, 180)) return "invalid_longitude";

  const rawTs = o.ts;
  let ts = receivedAt;
  const tsGiven = !absent(rawTs);
  if (tsGiven) {
    const parsed = parseTs(rawTs);
    if (parsed === null) return "invalid_ts";
    if (parsed > notAfter) return "future_ts";
    ts = parsed;
  }

  const seq = o.seq;
  if (!absent(seq) && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) return "invalid_seq";
  const speed = o.speed;
  if (!absent(speed) && !isNumberIn(speed, 0, Number.MAX_VALUE)) return "invalid_speed";
  const heading = o.heading;
  if (!absent(heading) && !isNumberIn(heading, 0, 360)) return "invalid_heading";
  const accuracy = o.accuracy;
  if (!absent(accuracy) && !isNumberIn(accuracy, 0, Number.MAX_VALUE)) return "invalid_accuracy";
  const altitude = o.altitude;
  if (!absent(altitude) && !Number.isFinite(altitude)) return "invalid_altitude";

  return {
    vehicle_id: vehicleId,
    latitude,
    longitude,
    ts,
    ts_given: tsGiven,
    seq: absent(seq) ? undefined : (seq as number),
    speed: absent(speed) ? undefined : speed,
    heading: absent(heading) ? undefined : heading,
    accuracy: absent(accuracy) ? undefined : accuracy,
    altitude: absent(altitude) ? undefined : (altitude as number),
  };
}
