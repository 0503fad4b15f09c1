// For the limits tests: a hub started in this process on free ports, raw MQTT 3.1.1 packets for
// clients that misbehave in ways MQTT.js never would, honest publishers, and the limit counters.

import fs from "node:fs";
import net from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { tempDir, waitFor } from "../../../tests/support/hub-process.ts";
import { loadConfig } from "../config.ts";
import { type Hub, startHub } from "../hub.ts";
import type { LimitReason } from "./limits.ts";

export interface TestHub {
  hub: Hub;
  port: number;
  /** locus_mqtt_limited_total for `reason`, read from /metrics. */
  limited(reason: LimitReason): Promise<number>;
  /** Events the hub has detected so far (locus_events_total, every type). */
  detected(): Promise<number>;
  close(): Promise<void>;
}

/** A whole hub (SQLite in a temp dir, embedded broker, API) on free ports, with `env` on top. */
export async function startTestHub(env: Record<string, string> = {}): Promise<TestHub> {
  const dataDir = tempDir("locus-limits-");
  const hub = await startHub(
    loadConfig({
      LOCUS_DATA_DIR: dataDir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_LOG_LEVEL: "silent",
      LOCUS_OUTBOX_GRACE_MS: "0",
      LOCUS_SQLITE_SYNCHRONOUS: "normal",
      ...env,
    }),
  );
  const metrics = async () => {
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.token}` },
    });
    return res.text();
  };
  return {
    hub,
    port: Number(new URL(hub.mqttUrl).port),
    async detected() {
      let sum = 0;
      for (const line of (await metrics()).split("\n")) {
        if (line.startsWith("locus_events_total{")) sum += Number(line.split(" ").at(-1));
      }
      return sum;
    },
    async limited(reason) {
      const text = await metrics();
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`locus_mqtt_limited_total{reason="${reason}"}`));
      if (line === undefined) throw new Error(`no locus_mqtt_limited_total for ${reason}`);
      return Number(line.split(" ").at(-1));
    },
    async close() {
      await hub.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function str(text: string): Buffer {
  const body = Buffer.from(text);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([length, body]);
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);
}

/** MQTT credentials, as the hub's REST API issues them. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * CONNECT, MQTT 3.1.1, clean session, no keepalive (so only the limits end it); anonymous, or
 * with a username and password.
 */
export function connectPacket(clientId: string, login?: Credentials): Buffer {
  const flags = 0x02 | (login ? 0xc0 : 0);
  const fields = login ? [str(login.username), str(login.password)] : [];
  return packet(
    0x10,
    Buffer.concat([str("MQTT"), Buffer.from([4, flags, 0, 0]), str(clientId), ...fields]),
  );
}

/** Issues an account through the hub's REST API: a vehicle (`{id}`) or a client (`{name, role}`). */
export async function issueAccount(
  hub: Hub,
  kind: "vehicles" | "clients",
  body: Record<string, string>,
): Promise<Credentials> {
  const res = await fetch(`${hub.httpUrl}/api/v1/${kind}`, {
    method: "POST",
    headers: { authorization: `Bearer ${hub.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { mqtt?: Credentials };
  if (res.status !== 201 || answer.mqtt === undefined) {
    throw new Error(`POST /api/v1/${kind} answered ${res.status}: ${JSON.stringify(answer)}`);
  }
  return answer.mqtt;
}

export function subscribePacket(topic: string, qos: 0 | 1, id = 1): Buffer {
  return packet(
    0x82,
    Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(topic), Buffer.from([qos])]),
  );
}

export function publishPacket(
  topic: string,
  payload: Buffer,
  options: { qos: 0 | 1; retain?: boolean; id?: number },
): Buffer {
  const id = options.id ?? 1;
  const head = options.qos === 1 ? Buffer.from([id >> 8, id & 0xff]) : Buffer.alloc(0);
  const first = 0x30 | (options.qos << 1) | (options.retain ? 1 : 0);
  return packet(first, Buffer.concat([str(topic), head, payload]));
}

/** A raw TCP client; resolves once connected. */
export function rawSocket(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * Resolves once the broker has closed the socket. A paused socket learns of the end only by
 * reading up to it, so it is resumed once the broker is known to have cut it (`cut`).
 */
export async function cutOff(socket: net.Socket, cut: () => Promise<boolean>): Promise<void> {
  await waitFor(async () => ((await cut()) ? true : undefined), 30_000, "the cut");
  socket.resume();
  await closed(socket);
}

/** Resolves when the socket is closed (by the broker, in these tests). */
export function closed(socket: net.Socket): Promise<void> {
  socket.on("error", () => {});
  return socket.closed ? Promise.resolve() : new Promise((r) => socket.once("close", () => r()));
}

/**
 * A subscriber that subscribes and then never reads again: its CONNACK and SUBACK are read so
 * the subscription is known to be in place, then its socket is paused for good.
 */
export async function frozenSubscriber(
  port: number,
  topic: string,
  login?: Credentials,
): Promise<net.Socket> {
  const socket = await rawSocket(port);
  socket.write(
    Buffer.concat([
      connectPacket(`frozen-${process.pid}-${topic.length}`, login),
      subscribePacket(topic, 1),
    ]),
  );
  let seen = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      // CONNACK is 4 bytes and SUBACK 5: both are in once 9 bytes came (nothing else is sent yet).
      if (seen.length >= 9 && seen[0] === 0x20 && seen[4] === 0x90) {
        socket.off("data", onData);
        socket.pause();
        resolve();
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error("the frozen subscriber was closed before SUBACK")));
  });
  return socket;
}

/**
 * Vehicles publishing valid fixes (`batch` to a message) at QoS 1, as fast as a window of
 * unacknowledged messages allows.
 */
export class Fleet {
  acks = 0;
  readonly clients: MqttClient[] = [];
  #running = true;

  static async start(
    url: string,
    vehicles: number,
    window: number,
    position: (vehicle: number, n: number) => [number, number] = () => [34.05, -118.24],
    batch = 1,
  ): Promise<Fleet> {
    const fleet = new Fleet();
    for (let v = 0; v < vehicles; v++) {
      const client = await mqtt.connectAsync(url, {
        clientId: `fleet-${process.pid}-${v}`,
        reconnectPeriod: 0,
      });
      fleet.clients.push(client);
      let n = 0;
      const next = () => {
        if (!fleet.#running) return;
        const [latitude, longitude] = position(v, n++);
        const fix = { latitude, longitude };
        client.publish(
          `locus/vehicles/v${v}/location`,
          JSON.stringify(batch === 1 ? fix : Array.from({ length: batch }, () => fix)),
          { qos: 1 },
          (err) => {
            if (err) return;
            fleet.acks++;
            next();
          },
        );
      };
      for (let i = 0; i < window; i++) next();
    }
    return fleet;
  }

  /** PUBACKs in each of `count` consecutive windows of `ms`. */
  async windows(count: number, ms: number): Promise<number[]> {
    const counts: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = this.acks;
      await new Promise((r) => setTimeout(r, ms));
      counts.push(this.acks - before);
    }
    return counts;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }
}

export { waitFor };
