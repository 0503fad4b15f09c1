// A stream client that stops reading while fixes keep coming over MQTT: ingestion goes on (every
// fix stored and acknowledged), the hub holds a bounded amount for the client, and the client
// gets the newest state once it reads again, or is disconnected when it stays stalled.

import mqtt from "mqtt";
import { afterEach, expect, it } from "vitest";
import { json, openRawStream, type RawStream } from "./stream-raw-test-support.ts";
import { metrics, STREAM_TOKEN, startTestHub, type TestHub } from "./stream-test-support.ts";

const VEHICLES = 1000;
const HIGH_WATER = 64 * 1024;
const T0 = Date.now() - 3_600_000;

let t: TestHub | undefined;
let device: mqtt.MqttClient | undefined;
afterEach(async () => {
  await device?.endAsync();
  await t?.close();
  device = undefined;
  t = undefined;
});

/** Ids as long as they may be, so each round's fixes message is large (about 200 KB). */
function vehicle(v: number): string {
  return `slow-client-test-vehicle-with-a-long-name-to-fill-buffers-${String(v).padStart(5, "0")}`;
}

/** One fix per vehicle at ts T0 + round s; resolves once every one is acknowledged (stored). */
async function round(client: mqtt.MqttClient, r: number): Promise<void> {
  const sends = [];
  for (let v = 0; v < VEHICLES; v++) {
    const fix = {
      ...{ latitude: 45 + v / 1e4, longitude: 7 + r / 1e4, ts: T0 + r * 1000, seq: r },
      ...{ speed: 12.25, heading: 180.5, accuracy: 4.75, altitude: 123.5 },
    };
    sends.push(
      client.publishAsync(`locus/vehicles/${vehicle(v)}/location`, JSON.stringify(fix), { qos: 1 }),
    );
  }
  await Promise.all(sends);
}

async function metric(name: string): Promise<number> {
  return (await metrics((t as TestHub).hub)).get(name) ?? 0;
}

/** Until `done` holds, or rejects after timeoutMs; each check reads the hub's metrics. */
async function until(done: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a hub, a device and a raw client that has its snapshot and then stops reading. */
async function stalledClient(env: Record<string, string>): Promise<RawStream> {
  t = await startTestHub({ LOCUS_STREAM_HIGH_WATER_BYTES: String(HIGH_WATER), ...env });
  device = await mqtt.connectAsync(t.hub.mqttUrl, { reconnectPeriod: 0 });
  const raw = await openRawStream(t.hub.httpUrl, STREAM_TOKEN);
  await raw.next((f) => f.opcode === 1 && json(f).type === "snapshot");
  raw.socket.pause();
  return raw;
}

/** Publishes rounds until the hub finds the client's socket full (it then holds fixes back). */
async function fillUntilBehind(client: mqtt.MqttClient): Promise<number> {
  for (let r = 0; r < 300; r++) {
    await round(client, r);
    if ((await metric("locus_stream_held_bytes")) > HIGH_WATER) return r + 1;
    if ((await metric("locus_stream_slow_disconnects_total")) > 0) return r + 1;
  }
  throw new Error("the client's socket never filled");
}

it("goes on ingesting, holds a bounded amount and sends the newest state once the client reads", async () => {
  const raw = await stalledClient({ LOCUS_STREAM_STALL_TIMEOUT_MS: "3600000" });
  const client = device as mqtt.MqttClient;
  const filled = await fillUntilBehind(client);
  const acceptedBefore = await metric("locus_fixes_accepted_total");
  const coalescedBefore = await metric("locus_stream_fixes_coalesced_total");
  const extra = 20;
  for (let r = filled; r < filled + extra; r++) await round(client, r);
  const last = filled + extra - 1;

  // Every fix of those rounds was stored (and acknowledged: round() awaited every PUBACK).
  expect((await metric("locus_fixes_accepted_total")) - acceptedBefore).toBe(extra * VEHICLES);
  // About 4 MB of fixes arrived meanwhile; the hub holds back no more than its mark and one
  // message (the client is still behind: it has read nothing).
  await until(async () => (await metric("locus_stream_held_bytes")) > HIGH_WATER, "a tick");
  expect(await metric("locus_stream_held_bytes")).toBeLessThan(HIGH_WATER + 512 * 1024);
  const coalesced = (await metric("locus_stream_fixes_coalesced_total")) - coalescedBefore;
  expect(coalesced).toBeGreaterThan(0);
  expect(await metric("locus_stream_slow_disconnects_total")).toBe(0);

  // Reading again, the client gets every vehicle's newest fix, not every fix on the way.
  const readBefore = raw.frames.length;
  raw.socket.resume();
  const newest = new Date(T0 + last * 1000).toISOString();
  const current = new Set<string>();
  let received = 0;
  await raw.next((f) => {
    if (f.opcode !== 1) return false;
    const m = json(f);
    if (m.type !== "fixes") return false;
    for (const fix of m.fixes) {
      received++;
      if (fix.ts === newest) current.add(fix.vehicle_id);
    }
    return current.size === VEHICLES;
  }, 60_000);
  expect(raw.frames.slice(readBefore).some((f) => f.opcode === 8)).toBe(false);
  expect(received).toBeLessThan((extra + filled) * VEHICLES);
  expect(await metric("locus_stream_clients")).toBe(1);
});

it("disconnects a client that stays stalled, while ingestion goes on", async () => {
  const raw = await stalledClient({ LOCUS_STREAM_STALL_TIMEOUT_MS: "500" });
  const client = device as mqtt.MqttClient;
  await fillUntilBehind(client);
  // Fixes keep coming while the hub waits out the stall timeout.
  let r = 1000;
  const accepted = await metric("locus_fixes_accepted_total");
  while ((await metric("locus_stream_slow_disconnects_total")) === 0) {
    if (r > 1300) throw new Error("the stalled client was never disconnected");
    await round(client, r++);
  }
  expect((await metric("locus_fixes_accepted_total")) - accepted).toBe((r - 1000) * VEHICLES);
  await until(async () => (await metric("locus_stream_clients")) === 0, "the client to go");
  // Once it reads again, it finds the connection ended (the close frame, if it got through, 4408).
  raw.socket.resume();
  await raw.ended;
  const close = raw.frames.find((f) => f.opcode === 8);
  if (close !== undefined) expect(close.payload.readUInt16BE(0)).toBe(4408);
  expect(await metric("locus_stream_slow_disconnects_total")).toBe(1);
});
