// What every scenario needs from an engine, so one scenario runs against NATS JetStream and
// RabbitMQ alike: its cluster, partitioned storage, a publisher that waits for the replicated
// acknowledgement (and resends across a node's death), a consumer of every partition acking in
// batches, and storage behind the engine's MQTT listener.

export interface EnginePublisher {
  /** Resolves once the engine acknowledged the fix as stored; resends through other nodes. */
  publish(vehicle: string, n: number, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface EngineConsumer {
  close(): Promise<void>;
}

export interface Engine {
  readonly name: string;
  /** Node names, e.g. n1..n3 or r1..r3. */
  readonly nodeNames: string[];
  /** PIDs of the engine's running server processes. */
  pids(): number[];
  kill(node: string): Promise<void>;
  restart(node: string): Promise<void>;
  /** Fresh partitioned storage for fixes (whatever an earlier run left is removed). */
  setupPartitions(partitions: number): Promise<void>;
  /** The node that leads the storage a publisher writes to (for NATS: the stream; RabbitMQ: partition 0's queue). */
  writeLeader(): Promise<string>;
  /** A publisher that connects to `node` first. */
  publisher(node: string): Promise<EnginePublisher>;
  /** One consumer of every partition, connected to `node` first, acking in batches. */
  consumer(node: string, onFix: (body: Uint8Array) => void): Promise<EngineConsumer>;
  /** Replicated storage for what MQTT clients publish on locus/vehicles/+/location. */
  setupMqttStorage(): Promise<void>;
  /** The node leading that storage. */
  mqttStorageLeader(): Promise<string>;
  mqttPort(node: string): number;
  /** Every payload stored from MQTT so far. */
  mqttStored(): Promise<Uint8Array[]>;
  /** What the partition-consumer processes need besides the partitions (NATS: the lease bucket). */
  prepareConsumerGroup(leaseMs: number): Promise<void>;
  /** Command and arguments of a partition-consumer process (see partition-consumer.ts). */
  consumerProcessConfig(partitions: number): Record<string, unknown>;
  stop(): Promise<void>;
}
