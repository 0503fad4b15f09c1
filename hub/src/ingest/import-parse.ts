// Reads an import (CONTRACT §5, POST /api/v1/vehicles/{id}/locations) into fixes of one vehicle:
// a GPX file (tracks, routes and waypoints, through @tmcw/togeojson), GeoJSON (Points with
// `properties.ts`, LineStrings with per-position times), or a JSON array of §3 fixes. Each point
// that cannot be a fix is reported by its index (its position among the import's points, in
// order) and the reason. Never throws but ImportError, whose message says what to fix.

import {
  altitudeOf,
  decodeLocationMessage,
  type Fix,
  latitudeOf,
  locationTopic,
  longitudeOf,
  nonNegative,
  parseDeviceTime,
  parseTs,
} from "@locus/protocol";
import { gpx } from "@tmcw/togeojson";
import { DOMParser } from "@xmldom/xmldom";

/** Most points one import may carry; more is refused whole (split the file). */
export const MAX_IMPORT_POINTS = 100_000;

export type ImportFormat = "gpx" | "geojson" | "json";

export interface ImportRejection {
  index: number;
  reason: string;
}

export interface ParsedImport {
  fixes: Fix[];
  rejected: ImportRejection[];
}

/** An import that cannot be read at all: the API answers `status` with this message. */
export class ImportError extends Error {
  override readonly name = "ImportError";
  constructor(
    readonly status: 400 | 413 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface ImportOptions {
  /** Epoch ms given to §3 fixes without ts. */
  receivedAt: number;
  /** Latest time accepted, epoch ms (LOCUS_MAX_FUTURE_S ahead of now). */
  notAfter: number;
  maxPoints?: number;
  /** The body's size limit, bytes, for a JSON array. */
  maxBytes: number;
}

/** Reads `text` as `format` into fixes of `vehicleId`. */
export function parseImport(
  format: ImportFormat,
  text: string,
  vehicleId: string,
  options: ImportOptions,
): ParsedImport {
  const maxPoints = options.maxPoints ?? MAX_IMPORT_POINTS;
  if (format === "json") return parseFixArray(text, vehicleId, options, maxPoints);
  const collection = format === "gpx" ? gpxFeatures(text) : jsonValue(text, "GeoJSON");
  const reader = new PointReader(vehicleId, options.notAfter, maxPoints);
  reader.walk(collection);
  return reader.result;
}

function jsonValue(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ImportError(400, `the body is not valid ${what} (${(err as Error).message})`);
  }
}

function gpxFeatures(text: string): unknown {
  let problem: string | null = null;
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level !== "warning") problem ??= message;
    },
  });
  let doc: ReturnType<DOMParser["parseFromString"]>;
  try {
    doc = parser.parseFromString(text, "application/xml");
  } catch (err) {
    problem ??= (err as Error).message;
    throw new ImportError(400, `the body is not a GPX file: ${problem}`);
  }
  if (problem !== null || doc.documentElement?.nodeName !== "gpx") {
    throw new ImportError(
      400,
      `the body is not a GPX file${problem ? `: ${problem}` : ` (its root element is ${doc.documentElement?.nodeName ?? "missing"}, not gpx)`}`,
    );
  }
  return gpx(doc);
}

/** A §3 fix array: the MQTT decoder's rules, with the import's bounds. */
function parseFixArray(
  text: string,
  vehicleId: string,
  options: ImportOptions,
  maxPoints: number,
): ParsedImport {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith("[")) {
    throw new ImportError(
      400,
      'a JSON import is an array of fixes ([{"latitude","longitude","ts"}…]); send GeoJSON as application/geo+json',
    );
  }
  const result = decodeLocationMessage(locationTopic(vehicleId), text, {
    maxBytes: options.maxBytes,
    maxBatch: maxPoints,
    receivedAt: options.receivedAt,
    notAfter: options.notAfter,
  });
  const whole = result.rejects.find((r) => r.index === -1);
  if (whole !== undefined) {
    if (whole.reason === "batch_too_large") {
      throw new ImportError(413, `more than ${maxPoints} fixes in one import: split it`);
    }
    throw new ImportError(400, `the body cannot be read as an array of fixes (${whole.reason})`);
  }
  return { fixes: result.fixes, rejected: result.rejects };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Epoch ms of an import time: RFC 3339 / ISO 8601 text, or epoch ms as a number (as §3's ts). */
function importTime(value: unknown): number | null {
  if (typeof value === "number") return parseTs(value);
  return parseDeviceTime(value);
}

/** Walks GeoJSON, turning every position into a fix or a rejection, in order. */
class PointReader {
  readonly result: ParsedImport = { fixes: [], rejected: [] };
  #index = 0;

  constructor(
    readonly vehicleId: string,
    readonly notAfter: number,
    readonly maxPoints: number,
  ) {}

  walk(value: unknown): void {
    if (!isObject(value))
      throw new ImportError(
        400,
        "the GeoJSON is not an object: send a FeatureCollection or a Feature",
      );
    if (value.type === "FeatureCollection") {
      if (!Array.isArray(value.features))
        throw new ImportError(400, "the FeatureCollection has no features array");
      for (const feature of value.features) this.#feature(feature);
    } else if (value.type === "Feature") {
      this.#feature(value);
    } else {
      throw new ImportError(
        400,
        `GeoJSON of type ${JSON.stringify(String(value.type)).slice(0, 40)} cannot be imported: send a FeatureCollection or a Feature`,
      );
    }
    if (this.#index === 0) throw new ImportError(400, "the import has no points");
  }

  #feature(feature: unknown): void {
    const geometry = isObject(feature) ? feature.geometry : null;
    const properties = isObject(feature) && isObject(feature.properties) ? feature.properties : {};
    if (!isObject(geometry) || !Array.isArray(geometry.coordinates)) {
      this.#reject("invalid_geometry");
      return;
    }
    const coords = geometry.coordinates as unknown[];
    const perPosition = isObject(properties.coordinateProperties)
      ? properties.coordinateProperties
      : {};
    switch (geometry.type) {
      case "Point":
        this.#point(coords, properties.ts ?? properties.time, properties);
        return;
      case "LineString":
      case "MultiPoint":
        this.#line(coords, perPosition.times ?? properties.times, perPosition, null);
        return;
      case "MultiLineString":
        coords.forEach((line, i) => {
          const times = perPosition.times ?? properties.times;
          this.#line(
            Array.isArray(line) ? line : [],
            Array.isArray(times) ? times[i] : undefined,
            perPosition,
            i,
          );
        });
        return;
      default:
        this.#reject("unsupported_geometry");
    }
  }

  #line(coords: unknown[], times: unknown, perPosition: Json, part: number | null): void {
    const at = (name: string, i: number): unknown => {
      const values = perPosition[name];
      const list = part === null ? values : Array.isArray(values) ? values[part] : undefined;
      return Array.isArray(list) ? list[i] : undefined;
    };
    coords.forEach((position, i) => {
      const time = Array.isArray(times) ? times[i] : undefined;
      this.#point(position, time, { speed: at("speeds", i), heading: at("courses", i) });
    });
  }

  #point(position: unknown, time: unknown, readings: Json): void {
    if (this.#index >= this.maxPoints) {
      throw new ImportError(413, `more than ${this.maxPoints} points in one import: split it`);
    }
    const fix = this.#fix(position, time, readings);
    if (typeof fix === "string") this.#reject(fix);
    else {
      this.result.fixes.push(fix);
      this.#index++;
    }
  }

  #fix(position: unknown, time: unknown, readings: Json): Fix | string {
    if (!Array.isArray(position) || position.length < 2) return "invalid_geometry";
    const longitude = longitudeOf(position[0]);
    if (typeof longitude === "string") return longitude;
    const latitude = latitudeOf(position[1]);
    if (typeof latitude === "string") return latitude;
    if (time === undefined || time === null || time === "") return "missing_ts";
    const ts = importTime(time);
    if (ts === null) return "invalid_ts";
    if (ts > this.notAfter) return "future_ts";
    const speed = nonNegative(readings.speed, "invalid_speed");
    const heading = nonNegative(readings.heading, "invalid_heading", 360);
    const accuracy = nonNegative(readings.accuracy, "invalid_accuracy");
    const altitude = altitudeOf(readings.altitude ?? position[2]);
    for (const r of [speed, heading, accuracy, altitude]) if (typeof r === "string") return r;
    return {
      vehicle_id: this.vehicleId,
      latitude,
      longitude,
      ts,
      ts_given: true,
      seq: undefined,
      speed: speed as number | undefined,
      heading: heading as number | undefined,
      accuracy: accuracy as number | undefined,
      altitude: altitude as number | undefined,
    };
  }

  #reject(reason: string): void {
    if (this.#index >= this.maxPoints) {
      throw new ImportError(413, `more than ${this.maxPoints} points in one import: split it`);
    }
    this.result.rejected.push({ index: this.#index, reason });
    this.#index++;
  }
}
