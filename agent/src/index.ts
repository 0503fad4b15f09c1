// @locus/agent as a library: the delivery loop and its buffers, for programs that run agents in
// process (the simulator runs thousands, each with its own MQTT connection and memory buffer).

export {
  BufferError,
  type BufferedFix,
  type BufferStats,
  type FixBuffer,
  type LastAck,
  type NewFix,
} from "./buffer/buffer.ts";
export { MemoryBuffer, type MemoryBufferOptions } from "./buffer/memory.ts";
export { readBufferStats, SqliteBuffer, type SqliteBufferOptions } from "./buffer/sqlite.ts";
export {
  isTlsBroker,
  type ReadFile,
  readCaFile,
  readPasswordFile,
} from "./cli/connection-files.ts";
export {
  Agent,
  type AgentFix,
  type AgentLog,
  type AgentLogLevel,
  type AgentOptions,
  type AgentStats,
  InvalidFixError,
} from "./delivery/agent.ts";
export { openSource, type SourceFix, type SourceOptions } from "./sources/index.ts";
