// OwnTracks over MQTT in every deployment, two hubs through the engine included (CONTRACT §9): the app's retained location on
// owntracks/{user}/{device} becomes a fix of vehicle {user}, other message types are ignored, and
// the same location delivered again is stored once. In production the hub reads the phone's
// messages through Mosquitto; a hub that subscribes anew (another client id, a lost session) is
// handed the retained location again and still stores it once.

import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubEnvironment, type HubMode, openHubEnvironment } from "./support/broker.ts";
import { api, type HubProcess, waitFor } from "./support/hub-process.ts";

const TST = Math.floor(Date.now() / 1000) - 600;

function location(tst: number): string {
  return JSON.stringify({
    _type: "location",
    acc: 10,
    alt: 52,
    batt: 64,
    bs: 1,
    conn: "w",
    created_at: tst,
    lat: 48.85833,
    lon: 2.29513,
    t: "p",
    tid: "ph",
    tst,
    vel: 72,
    cog: 10,
  });
}

describe.each<HubMode>(["embedded", "production", "cluster"])("OwnTracks over MQTT: %s", (mode) => {
  let environment: HubEnvironment | null = null;
  const hubs: HubProcess[] = [];

  async function fixes(hub: HubProcess, id: string): Promise<{ ts: string; speed?: number }[]> {
    const r = await api(hub, "GET", `/api/v1/vehicles/${id}/locations`);
    return r.status === 200 ? r.body.locations : [];
  }

  beforeAll(async () => {
    environment = await openHubEnvironment(mode, { vehicles: ["ot-phone"] });
    if (environment === null) return;
    hubs.push(await environment.startHub());
  }, 120_000);

  afterAll(async () => {
    for (const hub of hubs) expect(await hub.stop("SIGTERM")).toBe(0);
    await environment?.close();
  });

  it("stores the app's retained location once, ignoring its other messages", async (ctx) => {
    if (environment === null) return ctx.skip();
    const hub = hubs[0] as HubProcess;
    const phone = await mqtt.connectAsync(hub.mqttUrl, {
      ...environment.device("ot-phone"),
      // The app's client id is "{user}{device}" by default; MQTT 3.1.1 as the app speaks it.
      clientId: "ot-phonephone",
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      await phone.publishAsync("owntracks/ot-phone/phone", location(TST), { qos: 1, retain: true });
      await phone.publishAsync(
        "owntracks/ot-phone/phone/event",
        '{"_type":"transition","event":"enter","tst":1,"wtst":1,"lat":1,"lon":2,"acc":5}',
        { qos: 1 },
      );
      // The app resends when an acknowledgement is late: same message, same tst.
      await phone.publishAsync("owntracks/ot-phone/phone", location(TST), { qos: 1, retain: true });
      await phone.publishAsync("owntracks/ot-phone/phone", location(TST + 30), {
        qos: 1,
        retain: true,
      });
    } finally {
      await phone.endAsync();
    }
    const stored = await waitFor(
      async () => {
        const f = await fixes(hub, "ot-phone");
        return f.length >= 2 ? f : undefined;
      },
      30_000,
      "the phone's locations",
    );
    expect(stored.map((f) => f.ts)).toEqual([
      new Date(TST * 1000).toISOString(),
      new Date((TST + 30) * 1000).toISOString(),
    ]);
    expect(stored[0]?.speed).toBe(20); // 72 km/h
  });

  // Only a broker that keeps sessions and retained messages apart from the hub hands them again.
  if (mode === "production") {
    it("a hub that subscribes anew is handed the retained location again and stores it once", async (ctx) => {
      if (environment === null) return ctx.skip();
      const first = hubs.shift() as HubProcess;
      expect(await first.stop("SIGTERM")).toBe(0);
      // Another client id: a new session, so Mosquitto delivers the retained messages to it.
      const hub = await environment.startHub({ env: { LOCUS_MQTT_CLIENT_ID: "locus-hub-2" } });
      hubs.push(hub);
      const metrics = await waitFor(
        async () => {
          const res = await fetch(`${hub.httpUrl}/metrics`, {
            headers: { authorization: `Bearer ${hub.token}` },
          });
          const text = await res.text();
          return /^locus_fixes_duplicate_total [1-9]/m.test(text) ? text : undefined;
        },
        30_000,
        "the retained location to be delivered again",
      );
      expect(metrics).toMatch(/^locus_fixes_by_source_total\{source="owntracks"\} 0$/m);
      expect(await fixes(hub, "ot-phone")).toHaveLength(2);
    });
  }
});
