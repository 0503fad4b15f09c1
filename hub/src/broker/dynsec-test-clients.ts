// MQTT clients for the dynamic security tests: logins that are closed together at the end,
// what a client receives, and the SUBACK codes of a subscription (MQTT.js rejects on a refusal).

import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

let nextId = 0;

/** Opens clients against one broker and closes them all at the end. */
export class Clients {
  readonly #all: MqttClient[] = [];
  constructor(readonly url: () => string) {}

  async connect(options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(this.url(), {
      clientId: `dynsec-test-${process.pid}-${nextId++}`,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    this.#all.push(client);
    return client;
  }

  login(username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
    return this.connect({ username, password, ...extra });
  }

  endAll(): void {
    for (const c of this.#all) c.end(true);
  }
}

/** What a client receives, in order. */
export function inbox(client: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  client.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

/** The SUBACK code for each filter (>= 128: refused). */
export async function subscribeCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    return granted.map((g) => g.qos);
  } catch (err) {
    // MQTT.js rejects a SUBACK with any refusal; its packet has every code.
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw err;
    return granted;
  }
}

export const closed = (client: MqttClient) =>
  new Promise<void>((resolve) => {
    if (client.disconnected || !client.connected) resolve();
    client.once("close", () => resolve());
  });
