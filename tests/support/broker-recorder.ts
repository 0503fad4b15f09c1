// A subscriber that records every fix a vehicle's location topic carries, message by message,
// so tests can prove that every seq arrived, in order, and count the duplicates.

import { locationTopic, statusTopic } from "@locus/protocol";
import mqtt from "mqtt";
import { waitFor } from "./hub-process.ts";

export interface RecordedMessage {
  /** True when the payload was a JSON array (a batch). */
  batch: boolean;
  seqs: number[];
  ts: string[];
}

export interface Recorder {
  client: mqtt.MqttClient;
  messages: RecordedMessage[];
  /** Retained and live payloads of the vehicle's status topic, in arrival order. */
  statuses: string[];
  /** Every seq in arrival order, duplicates included. */
  seqs(): number[];
  /** Each seq once, in the order of its first arrival. */
  firstSeqs(): number[];
  /** How many fixes arrived more than once. */
  duplicates(): number;
  /** Waits until every seq in 0..count-1 arrived at least once. */
  waitForAll(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** A fixed client id with clean: false, so the session (and queued fixes) survive a restart. */
  persistentId?: string;
}

/** Subscribes (QoS 1) to a vehicle's location and status topics; resolves once subscribed. */
export async function recordFixes(
  url: string,
  vehicleId: string,
  options: RecorderOptions = {},
): Promise<Recorder> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 100,
    connectTimeout: 5000,
    ...(options.persistentId ? { clientId: options.persistentId, clean: false } : {}),
  });
  const messages: RecordedMessage[] = [];
  const statuses: string[] = [];
  const location = locationTopic(vehicleId);
  const status = statusTopic(vehicleId);
  client.on("message", (topic, payload) => {
    if (topic === status) {
      statuses.push(payload.toString());
      return;
    }
    if (topic !== location) return;
    const value = JSON.parse(payload.toString());
    const fixes: any[] = Array.isArray(value) ? value : [value];
    messages.push({
      batch: Array.isArray(value),
      seqs: fixes.map((f) => f.seq),
      ts: fixes.map((f) => f.ts),
    });
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => {
      client.subscribe([location, status], { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  });
  const seqs = () => messages.flatMap((m) => m.seqs);
  const recorder: Recorder = {
    client,
    messages,
    statuses,
    seqs,
    firstSeqs() {
      const seen = new Set<number>();
      const out: number[] = [];
      for (const s of seqs()) {
        if (!seen.has(s)) {
          seen.add(s);
          out.push(s);
        }
      }
      return out;
    },
    duplicates() {
      const all = seqs();
      return all.length - new Set(all).size;
    },
    async waitForAll(count, timeoutMs = 20_000) {
      await waitFor(
        () => {
          const seen = new Set(seqs());
          for (let i = 0; i < count; i++) if (!seen.has(i)) return undefined;
          return true;
        },
        timeoutMs,
        () => `all ${count} fixes (have ${new Set(seqs()).size})`,
      );
    },
    close: () => client.endAsync(true),
  };
  return recorder;
}
