// Geofence ids: UUIDv7 (RFC 9562), so ids sort in creation order and pagination cursors stay simple.

import { randomBytes } from "node:crypto";

/**
 * Makes UUIDv7s; ids made by one generator within one millisecond still sort in creation order.
 * `after`, the highest id already stored, keeps new ids above it across restarts and clock steps.
 */
export function idGenerator(after?: string): (now: number) => string {
  let lastMs = 0;
  let counter = 0;
  const hex = after?.replaceAll("-", "");
  if (hex && /^[0-9a-f]{12}7[0-9a-f]{3}/.test(hex)) {
    lastMs = Number.parseInt(hex.slice(0, 12), 16);
    counter = Number.parseInt(hex.slice(13, 16), 16);
  }
  return (now) => {
    const bytes = randomBytes(16);
    if (now <= lastMs) {
      counter = (counter + 1) & 0xfff;
      if (counter === 0) lastMs += 1;
    } else {
      lastMs = now;
      counter = 0;
    }
    const ms = lastMs;
    bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
    bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
    bytes[2] = (ms >>> 24) & 0xff;
    bytes[3] = (ms >>> 16) & 0xff;
    bytes[4] = (ms >>> 8) & 0xff;
    bytes[5] = ms & 0xff;
    // 12-bit counter in rand_a keeps same-millisecond ids ordered.
    bytes[6] = 0x70 | (counter >>> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
    const hex = bytes.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}
