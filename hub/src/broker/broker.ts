// What the hub needs from an MQTT broker, embedded (aedes in-process) or external (a client of
// Mosquitto): a way to publish events, a health state, and an orderly stop.

/** "ok": messages flow; "disconnected": an external broker is out of reach (reconnecting). */
export type BrokerState = "ok" | "disconnected" | "closed";

export interface Broker {
  /** Where devices connect, for the ready line (no credentials). */
  readonly url: string;
  /** Clients connected to the broker, as far as the hub can tell (a gauge in /metrics). */
  readonly connectedClients: number;
  readonly state: BrokerState;
  /** Publishes on behalf of the hub at QoS 1; resolves once the broker has taken the message. */
  publish(topic: string, payload: string): Promise<void>;
  /**
   * Stops taking new messages. What was already taken is still acknowledged once committed;
   * anything later stays with the broker (or the device) for the next start.
   */
  stopAccepting(): void;
  /** Acknowledges what is settled, disconnects and releases everything. */
  close(): Promise<void>;
}
