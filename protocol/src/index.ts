// @locus/protocol: the wire protocol shared by agent, hub and simulator, so they cannot drift apart.
export * from "./decode.ts";
export * from "./event.ts";
export * from "./fix.ts";
export * from "./time.ts";
export * from "./topics.ts";
