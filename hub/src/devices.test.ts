// Phones and trackers against a real embedded hub (CONTRACT §9), with requests shaped as the apps
// send them: the OwnTracks app in HTTP mode and over MQTT, Traccar Client (query and JSON) and a
// generic OsmAnd tracker on LOCUS_OSMAND_PORT. Credentials as the vehicles' MQTT passwords; the
// anonymous policy; resent fixes stored once; events and per-source metrics like any fix.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, waitFor } from "../../tests/support/hub-process.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";

const TOKEN = "test-token-0123456789abcdef";

interface ErrorBody {
  statusCode: number;
  message: string;
}
const T0 = Math.floor(Date.now() / 1000) - 3600;
/** A square around 52.5N 13.4E; fixes at 52.5163,13.3777 are inside. */
const DEPOT = {
  type: "Feature",
  properties: { name: "depot" },
  geometry: {
    type: "Polygon",
    coordinates: [
      [
        [13.3, 52.4],
        [13.5, 52.4],
        [13.5, 52.6],
        [13.3, 52.6],
        [13.3, 52.4],
      ],
    ],
  },
};

async function start(dir: string, env: Record<string, string>): Promise<Hub> {
  return startHub(
    loadConfig({
      LOCUS_DATA_DIR: dir,
      LOCUS_HTTP_PORT: "0",
      LOCUS_MQTT_PORT: "0",
      LOCUS_OSMAND_PORT: "0",
      LOCUS_API_TOKEN: TOKEN,
      LOCUS_OUTBOX_GRACE_MS: "0",
      ...env,
    }),
    pino({ level: "silent" }),
  );
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** The headers the OwnTracks Android app sends in HTTP mode. */
function ownTracksHeaders(user: string, password: string | null): Record<string, string> {
  return {
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Owntracks-Android/2.5.3",
    "x-limit-u": user,
    "x-limit-d": "phone",
    ...(password === null ? {} : { authorization: basic(user, password) }),
  };
}

function ownTracksLocation(tst: number, extra: object = {}) {
  return JSON.stringify({
    _type: "location",
    acc: 8,
    alt: 41,
    batt: 77,
    bs: 1,
    conn: "m",
    created_at: tst + 1,
    lat: 52.516275,
    lon: 13.377704,
    m: 1,
    t: "u",
    tid: "ph",
    topic: "owntracks/van-1/phone",
    tst,
    vac: 2,
    vel: 18,
    cog: 45,
    ...extra,
  });
}

async function locations(hub: Hub, id: string): Promise<any[]> {
  const r = await api(hub, "GET", `/api/v1/vehicles/${id}/locations?limit=10000`);
  return r.status === 200 ? r.body.locations : [];
}

async function metric(hub: Hub, line: string): Promise<number> {
  const text = await (
    await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return Number(found?.split(" ")[1] ?? Number.NaN);
}

describe("devices on a hub that requires credentials", () => {
  let dir: string;
  let hub: Hub;
  let password: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-devices-"));
    hub = await start(dir, { LOCUS_MQTT_ALLOW_ANONYMOUS: "false" });
    const issued = await api(hub, "POST", "/api/v1/vehicles", { id: "van-1" });
    expect(issued.status).toBe(201);
    password = issued.body.mqtt.password;
    expect((await api(hub, "POST", "/api/v1/geofences", DEPOT)).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("OwnTracks HTTP: a location is a fix, answered 200 [], stored once when resent, evented", async () => {
    const post = (body: string, headers = ownTracksHeaders("van-1", password)) =>
      fetch(`${hub.httpUrl}/api/v1/owntracks`, { method: "POST", headers, body });
    const res = await post(ownTracksLocation(T0));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("[]");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    // The app resends after a timeout: the same tst, stored once.
    expect((await post(ownTracksLocation(T0))).status).toBe(200);
    const stored = await locations(hub, "van-1");
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      ts: new Date(T0 * 1000).toISOString(),
      speed: 5,
      heading: 45,
    });
    const events = await api(hub, "GET", "/api/v1/events?vehicle_id=van-1");
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual(["enter"]);

    // Other types and empty bodies are fine; nothing stored.
    expect((await post('{"_type":"lwt","tst":1}')).status).toBe(200);
    expect((await post("")).status).toBe(200);
    expect(await locations(hub, "van-1")).toHaveLength(1);
    expect(await metric(hub, 'locus_fixes_by_source_total{source="owntracks"}')).toBe(1);
  });

  it("OwnTracks HTTP refuses missing or wrong credentials and another vehicle's name", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${hub.httpUrl}/api/v1/owntracks`, {
        method: "POST",
        headers,
        body: ownTracksLocation(T0 + 5),
      });
    const none = await post(ownTracksHeaders("van-1", null));
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(((await none.json()) as ErrorBody).message).toMatch(/credentials required/);
    expect((await post(ownTracksHeaders("van-1", `${password}x`))).status).toBe(401);
    expect((await post(ownTracksHeaders("ghost", "whatever"))).status).toBe(401);
    const other = { ...ownTracksHeaders("van-1", password), "x-limit-u": "van-2" };
    expect((await post(other)).status).toBe(403);
    const bearer = { ...ownTracksHeaders("van-1", null), authorization: `Bearer ${TOKEN}` };
    expect((await post(bearer)).status).toBe(401);
    expect(await locations(hub, "van-2")).toEqual([]);
    expect(
      (await locations(hub, "van-1")).some((f) => f.ts === new Date((T0 + 5) * 1000).toISOString()),
    ).toBe(false);
  });

  it("OwnTracks over MQTT: the vehicle's retained location is a fix; another user's topic is not", async () => {
    const phone = await mqtt.connectAsync(hub.mqttUrl, {
      username: "van-1",
      password,
      clientId: "van-1 phone",
      reconnectPeriod: 0,
    });
    try {
      await phone.publishAsync("owntracks/van-1/phone", ownTracksLocation(T0 + 60), {
        qos: 1,
        retain: true,
      });
      await phone
        .publishAsync("owntracks/van-2/phone", ownTracksLocation(T0 + 60), { qos: 1 })
        .catch(() => {});
      await phone.publishAsync(
        "owntracks/van-1/phone/event",
        '{"_type":"transition","event":"leave"}',
        { qos: 1 },
      );
      const stored = await waitFor(
        async () => {
          const fixes = await locations(hub, "van-1");
          return fixes.length === 2 ? fixes : undefined;
        },
        20_000,
        "the MQTT location",
      );
      expect(stored[1]).toMatchObject({ ts: new Date((T0 + 60) * 1000).toISOString(), speed: 5 });
      expect(await locations(hub, "van-2")).toEqual([]);
    } finally {
      await phone.endAsync(true);
    }
  });

  it("OsmAnd: Traccar Client's query with the password parameter, then its JSON with HTTP Basic", async () => {
    const query = `id=van-1&timestamp=${T0 + 120}&lat=52.52&lon=13.38&speed=10&bearing=180&altitude=35&accuracy=6&batt=80&password=${encodeURIComponent(password)}`;
    const q = await fetch(`${hub.httpUrl}/api/v1/osmand?${query}`, {
      method: "POST",
      headers: { "user-agent": "Traccar Client", "content-length": "0" },
    });
    expect(q.status).toBe(200);
    expect(await q.text()).toBe("");
    const json = await fetch(`${hub.httpUrl}/api/v1/osmand`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic("van-1", password) },
      body: JSON.stringify({
        location: {
          timestamp: new Date((T0 + 180) * 1000).toISOString(),
          coords: {
            latitude: 52.53,
            longitude: 13.39,
            speed: 7.5,
            heading: -1,
            accuracy: 4,
            altitude: 36,
          },
          is_moving: true,
          odometer: 12.5,
          event: "motionchange",
          battery: { level: 0.8, is_charging: false },
          activity: { type: "in_vehicle" },
          extras: {},
        },
        device_id: "van-1",
      }),
    });
    expect(json.status).toBe(200);
    const stored = await locations(hub, "van-1");
    const byTs = (s: number) => stored.find((f) => f.ts === new Date(s * 1000).toISOString());
    expect(byTs(T0 + 120)).toMatchObject({ speed: (10 * 1852) / 3600, heading: 180, accuracy: 6 });
    expect(byTs(T0 + 180)).toMatchObject({ speed: 7.5, accuracy: 4 });
    expect(byTs(T0 + 180)?.heading).toBeUndefined();
    expect(await metric(hub, 'locus_fixes_by_source_total{source="osmand"}')).toBe(2);
  });

  it("OsmAnd: an unknown device gets 400, a wrong password 401, nothing stored", async () => {
    const get = (qs: string) => fetch(`${hub.httpUrl}/api/v1/osmand?${qs}`);
    expect((await get("id=ghost&lat=1&lon=2&password=x")).status).toBe(400);
    expect((await get("id=van-1&lat=1&lon=2&password=wrong")).status).toBe(401);
    expect((await get("id=van-1&lat=1&lon=2")).status).toBe(401);
    expect((await get("lat=1&lon=2")).status).toBe(400);
    expect((await locations(hub, "van-1")).some((f) => f.latitude === 1)).toBe(false);
  });

  it("OsmAnd at / on LOCUS_OSMAND_PORT, as a generic tracker sends it (GET, form POST)", async () => {
    expect(hub.osmandUrl).not.toBeNull();
    const base = hub.osmandUrl as string;
    const get = await fetch(
      `${base}/?id=van-1&lat=52.54&lon=13.4&timestamp=${encodeURIComponent(new Date((T0 + 240) * 1000).toISOString())}&password=${encodeURIComponent(password)}`,
    );
    expect(get.status).toBe(200);
    const form = await fetch(`${base}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `id=van-1&location=52.55%2C13.41&timestamp=${T0 + 300}&speed=0&password=${encodeURIComponent(password)}`,
    });
    expect(form.status).toBe(200);
    const stored = await locations(hub, "van-1");
    expect(stored.some((f) => f.latitude === 52.54)).toBe(true);
    expect(stored.some((f) => f.latitude === 52.55 && f.longitude === 13.41)).toBe(true);
    expect((await fetch(`${base}/api/v1/vehicles`)).status).toBe(404);
  });

  it("the device routes and the import are in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${hub.httpUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths["/api/v1/owntracks"] ?? {})).toContain("post");
    expect(Object.keys(doc.paths["/api/v1/osmand"] ?? {})).toEqual(
      expect.arrayContaining(["get", "post"]),
    );
    expect(Object.keys(doc.paths["/api/v1/vehicles/{id}/locations"] ?? {})).toEqual(
      expect.arrayContaining(["get", "post"]),
    );
  });

  it("LOCUS_OSMAND_PORT: unset by default; a bad value or a port in use names the setting", async () => {
    expect(loadConfig({}).osmandPort).toBeNull();
    expect(loadConfig({ LOCUS_OSMAND_PORT: "5055" }).osmandPort).toBe(5055);
    expect(() => loadConfig({ LOCUS_OSMAND_PORT: "osmand" })).toThrow(/^LOCUS_OSMAND_PORT: /);
    const taken = new URL(hub.httpUrl).port;
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "locus-devices-port-"));
    try {
      const failed = await start(other, { LOCUS_OSMAND_PORT: taken }).then(
        async (h) => {
          await h.close();
          return null;
        },
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(ConfigError);
      expect((failed as ConfigError).setting).toBe("LOCUS_OSMAND_PORT");
      expect((failed as ConfigError).message).toMatch(/already in use/);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("bad bodies get clear 4xx answers and never stop the hub", async () => {
    const auth = { authorization: basic("van-1", password) };
    const cases: [string, RequestInit, number][] = [
      [
        "/api/v1/owntracks",
        { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{" },
        400,
      ],
      [
        "/api/v1/owntracks",
        { method: "POST", headers: auth, body: '{"_type":"location","lat":"x"}' },
        400,
      ],
      ["/api/v1/owntracks", { method: "POST", headers: auth, body: "x".repeat(300_000) }, 413],
      [
        "/api/v1/osmand",
        {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: '{"device_id":"van-1","location":',
        },
        400,
      ],
      ["/api/v1/osmand?id=van-1&lat=91&lon=0", { method: "GET", headers: auth }, 400],
      [
        "/api/v1/osmand?id=van-1&lat=1&lon=1&timestamp=tomorrow",
        { method: "GET", headers: auth },
        400,
      ],
      ["/api/v1/osmand", { method: "POST", headers: auth, body: "\u0000\u0001garbage=%%%" }, 400],
    ];
    for (const [route, init, status] of cases) {
      const res = await fetch(`${hub.httpUrl}${route}`, init);
      expect(res.status, `${route} ${String(init.body).slice(0, 40)}`).toBe(status);
      const body = (await res.json()) as ErrorBody;
      expect(body.statusCode).toBe(status);
      expect(body.message.length).toBeGreaterThan(10);
    }
    expect((await api(hub, "GET", "/api/v1/health")).status).toBe(200);
  });
});

describe("devices on a loopback hub that takes anonymous clients", () => {
  let dir: string;
  let hub: Hub;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-devices-anon-"));
    hub = await start(dir, { LOCUS_MQTT_ALLOW_ANONYMOUS: "true" });
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("takes OwnTracks (named by X-Limit-U) and OsmAnd without credentials from loopback", async () => {
    const ot = await fetch(`${hub.httpUrl}/api/v1/owntracks`, {
      method: "POST",
      headers: ownTracksHeaders("anon-1", null),
      body: ownTracksLocation(T0),
    });
    expect(ot.status).toBe(200);
    const osm = await fetch(`${hub.httpUrl}/api/v1/osmand?id=anon-2&lat=1.5&lon=2.5`);
    expect(osm.status).toBe(200);
    expect(await locations(hub, "anon-1")).toHaveLength(1);
    const [fix] = await locations(hub, "anon-2");
    // No timestamp: the time the hub received it.
    expect(Math.abs(Date.parse(fix.ts) - Date.now())).toBeLessThan(60_000);
  });

  it("a location without any vehicle named is refused", async () => {
    const res = await fetch(`${hub.httpUrl}/api/v1/owntracks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ _type: "location", lat: 1, lon: 2, tst: T0 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).message).toMatch(/X-Limit-U/);
  });
});
