// One extra MQTT client that subscribes to the hub's geofence events and counts those of the
// fleet's vehicles (and hands each to a listener, for the demo).

import { EVENTS_TOPIC, type GeofenceEvent } from "@locus/protocol";
import mqtt from "mqtt";

export interface EventWatcherOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
  /** PEM CA certificates for an mqtts:// or wss:// broker (default: Node's list). */
  ca?: string;
  clientId: string;
  /** Whether an event's vehicle is one of ours. */
  isOurs: (vehicleId: string) => boolean;
  onEvent?: (event: GeofenceEvent) => void;
}

export type WatcherState = "connecting" | "subscribed" | "refused" | "offline";

export class EventWatcher {
  /** Events of our vehicles seen, by type. */
  readonly counts = new Map<string, number>();
  seen = 0;
  /** Messages on the events topic that were not JSON. */
  malformed = 0;
  state: WatcherState = "connecting";
  lastError: string | null = null;
  private lastEventAt = 0;
  private readonly client: mqtt.MqttClient;

  constructor(private readonly options: EventWatcherOptions) {
    this.client = mqtt.connect(options.brokerUrl, {
      clientId: options.clientId,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    this.client.on("connect", () => this.subscribe());
    this.client.on("close", () => {
      if (this.state === "subscribed") this.state = "offline";
    });
    this.client.on("error", (err) => {
      this.lastError = err.message;
    });
    this.client.on("message", (_topic, payload) => this.receive(payload));
  }

  /** Resolves once subscribed (or refused), or after timeoutMs. */
  ready(timeoutMs: number): Promise<WatcherState> {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        if (this.state === "subscribed" || this.state === "refused" || Date.now() >= deadline) {
          resolve(this.state);
        } else {
          setTimeout(check, 20);
        }
      };
      check();
    });
  }

  /**
   * Resolves once no event has arrived for `quietMs` (the hub publishes events just after it
   * acknowledges the fixes that caused them), or after `maxMs`.
   */
  settle(quietMs: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    return new Promise((resolve) => {
      const check = () => {
        const now = Date.now();
        if (now - this.lastEventAt >= quietMs || now >= deadline) resolve();
        else setTimeout(check, Math.min(quietMs, 50));
      };
      setTimeout(check, quietMs);
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => {});
  }

  private subscribe(): void {
    this.client.subscribe(EVENTS_TOPIC, { qos: 1 }, (err, granted) => {
      if (err) {
        this.lastError = err.message;
        return;
      }
      // SUBACK 0x80 (MQTT 3.1.1) or >= 0x80 (MQTT 5): the broker's ACL refused it.
      const refused = granted?.some((g) => g.qos >= 0x80) ?? false;
      this.state = refused ? "refused" : "subscribed";
    });
  }

  private receive(payload: Buffer): void {
    let event: GeofenceEvent;
    try {
      event = JSON.parse(payload.toString("utf8")) as GeofenceEvent;
    } catch {
      this.malformed++;
      return;
    }
    if (typeof event?.vehicle_id !== "string" || !this.options.isOurs(event.vehicle_id)) return;
    this.seen++;
    this.lastEventAt = Date.now();
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
    this.options.onEvent?.(event);
  }
}
