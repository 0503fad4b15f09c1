// @locus/hub as a library, for programs that run a hub inside their own process (the demo):
// start one from a checked configuration, and check geofence geometry as the hub does.

export { ConfigError, type HubConfig, loadConfig } from "./config.ts";
export { MemoryFenceIndex } from "./geofence/memory-index.ts";
export { type GeometryCheck, validateGeometry } from "./geofence/validate.ts";
export { type Hub, startHub } from "./hub.ts";
