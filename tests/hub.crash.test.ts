// Crash safety: kill -9 the hub mid-stream. Every acknowledged fix must be stored after the
// restart, and every event the stored fixes caused must reach a subscriber (maybe twice, same id).

import { buildEvent, type Fix } from "@locus/protocol";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import type { Fence } from "../hub/src/geofence/fence.ts";
import { EMPTY_VEHICLE_STATE, judgeFix } from "../hub/src/geofence/membership.ts";
import { MemoryFenceIndex } from "../hub/src/geofence/memory-index.ts";
import {
  api,
  freePort,
  type HubProcess,
  startHubProcess,
  tempDir,
  waitFor,
} from "./support/hub-process.ts";
import { YARD, yardFix } from "./support/yard.ts";

const VEHICLES = 8;
const FIXES_PER_VEHICLE = 400;

function subscribe(url: string, received: Map<string, any>): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 100, connectTimeout: 5000 });
    client.on("message", (_t, payload) => {
      const event = JSON.parse(payload.toString());
      received.set(event.id, event);
    });
    client.once("connect", () => {
      client.subscribe("locus/geofence/events", { qos: 1 }, (err) =>
        err ? reject(err) : resolve(client),
      );
    });
  });
}

describe("hub crash safety", () => {
  const hubs: HubProcess[] = [];
  const clients: mqtt.MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients) c.end(true);
    for (const h of hubs) await h.stop("SIGKILL");
  });

  it("keeps every acknowledged fix and delivers every event after kill -9", async () => {
    const dataDir = tempDir();
    const httpPort = await freePort();
    const mqttPort = await freePort();
    const first = await startHubProcess({ dataDir, httpPort, mqttPort });
    hubs.push(first);
    const created = await api(first, "POST", "/api/v1/geofences", YARD);
    expect(created.status).toBe(201);

    const received = new Map<string, any>();
    clients.push(await subscribe(first.mqttUrl, received));

    const device = mqtt.connect(first.mqttUrl, { reconnectPeriod: 0 });
    clients.push(device);
    await new Promise((resolve) => device.once("connect", resolve));
    const acked = new Map<string, Set<number>>();
    let ackCount = 0;
    for (let i = 0; i < FIXES_PER_VEHICLE; i++) {
      for (let v = 0; v < VEHICLES; v++) {
        const id = `crash-${v}`;
        device.publish(
          `locus/vehicles/${id}/location`,
          JSON.stringify(yardFix(i)),
          { qos: 1 },
          (err) => {
            if (err) return;
            ackCount++;
            const set = acked.get(id) ?? new Set<number>();
            set.add(i);
            acked.set(id, set);
          },
        );
      }
    }
    // Kill while many fixes are still in flight.
    await waitFor(() => (ackCount >= 600 ? true : undefined), 20_000, "600 acks");
    first.child.kill("SIGKILL");
    await first.exited;
    expect(ackCount).toBeLessThan(VEHICLES * FIXES_PER_VEHICLE);

    const second = await startHubProcess({
      dataDir,
      httpPort,
      mqttPort,
      env: { LOCUS_OUTBOX_GRACE_MS: "1500" },
    });
    hubs.push(second);
    clients.push(await subscribe(second.mqttUrl, received));

    const fence: Fence = {
      id: created.body.id,
      name: "yard",
      polygons: [created.body.geometry.coordinates],
    };
    const index = new MemoryFenceIndex();
    index.upsert(fence);
    const catalogue = new Map([[fence.id, fence]]);
    const expectedIds = new Set<string>();
    for (let v = 0; v < VEHICLES; v++) {
      const id = `crash-${v}`;
      const res = await api(second, "GET", `/api/v1/vehicles/${id}/locations?limit=10000`);
      const storedSeqs: number[] = (res.body.locations ?? []).map((f: any) => f.seq);
      for (const seq of acked.get(id) ?? []) expect(storedSeqs).toContain(seq);
      // Replay the stored fixes through the engine: these are the events that must exist.
      let state = EMPTY_VEHICLE_STATE;
      for (const seq of storedSeqs) {
        const fix: Fix = { vehicle_id: id, ts_given: true, ...yardFix(seq) };
        const covering = index.covering([[fix.longitude, fix.latitude]])[0] ?? [];
        const judged = judgeFix(state, fix, covering, catalogue, {
          defaultMaxAccuracyM: Number.POSITIVE_INFINITY,
        });
        state = judged.state;
        for (const t of judged.transitions) {
          expectedIds.add(buildEvent({ type: t.type, geofence_id: t.fence_id }, fix, "yard", 0).id);
        }
      }
    }
    expect(expectedIds.size).toBeGreaterThan(0);
    await waitFor(
      () => ([...expectedIds].every((id) => received.has(id)) ? true : undefined),
      30_000,
      "every event to be delivered",
    );
    const stored = await api(second, "GET", "/api/v1/events?limit=10000");
    expect(new Set(stored.body.events.map((e: any) => e.id))).toEqual(expectedIds);
    expect(await second.stop("SIGTERM")).toBe(0);
  });
});
