// @locus/protocol: the wire protocol shared by agent, hub and simulator, so they cannot drift
// apart, and the few small pieces all of them need (retry backoff, URL redaction).
export * from "./backoff.ts";
export * from "./decode.ts";
export * from "./device-fields.ts";
export * from "./event.ts";
export * from "./fix.ts";
export * from "./osmand.ts";
export * from "./owntracks.ts";
export * from "./readings.ts";
export * from "./redact.ts";
export * from "./time.ts";
export * from "./topics.ts";
