// One message on the fixes stream: one vehicle's fixes from one device message (or one piece of
// an HTTP submission), as decoded and checked by the hub that received them, with their source.
// Its message id lets the engine store a resend once: the same fixes give the same id.

import type { Fix } from "@locus/protocol";
import type { FixSource } from "../metrics.ts";

const SOURCES: ReadonlySet<string> = new Set<FixSource>(["agent", "owntracks", "osmand", "import"]);

export interface FixMessage {
  source: FixSource;
  fixes: Fix[];
}

export function encodeFixMessage(source: FixSource, fixes: readonly Fix[]): Uint8Array {
  return Buffer.from(JSON.stringify({ s: source, f: fixes }));
}

/**
 * The engine's de-duplication id of a message: its vehicle and each fix's ts and seq. Null when
 * a fix has no ts of its own: such a fix is never a duplicate, so the message is stored as sent.
 */
export function fixMessageId(fixes: readonly Fix[]): string | null {
  const first = fixes[0];
  if (first === undefined) return null;
  const parts = [first.vehicle_id];
  for (const f of fixes) {
    if (!f.ts_given) return null;
    parts.push(`${f.ts}:${f.seq ?? ""}`);
  }
  const id = parts.join("/");
  // Long messages are named by a digest of the same parts.
  return id.length <= 512 ? id : `${first.vehicle_id}#${digest(id)}`;
}

function digest(text: string): string {
  // FNV-1a 64 over the text, twice with different seeds: 128 bits, no crypto needed (the hub
  // wrote every part itself from checked fixes).
  const hash = (seed: bigint) => {
    let h = seed;
    for (let i = 0; i < text.length; i++) {
      h ^= BigInt(text.charCodeAt(i));
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    return h.toString(16).padStart(16, "0");
  };
  return hash(0xcbf29ce484222325n) + hash(0x84222325cbf29ce4n);
}

/** Reads a message back; null when it is not one (it is then dropped, and logged by the caller). */
export function decodeFixMessage(data: Uint8Array): FixMessage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const { s, f } = parsed as { s?: unknown; f?: unknown };
  if (typeof s !== "string" || !SOURCES.has(s) || !Array.isArray(f)) return null;
  for (const fix of f) if (!isFix(fix)) return null;
  return { source: s as FixSource, fixes: f as Fix[] };
}

function isFix(value: unknown): value is Fix {
  if (typeof value !== "object" || value === null) return false;
  const f = value as Record<string, unknown>;
  return (
    typeof f.vehicle_id === "string" &&
    Number.isFinite(f.latitude) &&
    Number.isFinite(f.longitude) &&
    Number.isFinite(f.ts) &&
    typeof f.ts_given === "boolean" &&
    optionalNumber(f.seq) &&
    optionalNumber(f.speed) &&
    optionalNumber(f.heading) &&
    optionalNumber(f.accuracy) &&
    optionalNumber(f.altitude)
  );
}

function optionalNumber(value: unknown): boolean {
  return value === undefined || Number.isFinite(value);
}
