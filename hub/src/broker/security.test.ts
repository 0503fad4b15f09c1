// CONTRACT §3 "Who may do what" against a real embedded broker with mqtt.js clients, every row
// from both sides: what is allowed arrives, what is forbidden is refused the MQTT way (CONNACK,
// SUBACK failure codes) or dropped, reaches no subscriber and is counted.

import { EVENTS_TOPIC } from "@locus/protocol";
import mqtt, { type MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import type { MqttRefusal } from "../identity/access.ts";
import { EmbeddedBrokerAccounts } from "./embedded-accounts.ts";
import {
  credentials,
  Inbox,
  openSecuredBroker,
  type SecuredBroker,
  type Who,
} from "./security-harness.ts";

let sut: SecuredBroker | undefined;

afterEach(async () => {
  await sut?.close();
  sut = undefined;
});

async function open(allowAnonymous = true, maxRetained?: number): Promise<SecuredBroker> {
  sut = await openSecuredBroker({
    allowAnonymous,
    ...(maxRetained === undefined ? {} : { retainedLimits: { maxMessages: maxRetained } }),
  });
  return sut;
}

const fix = (seq: number) => JSON.stringify({ latitude: 34.05, longitude: -118.24, seq, ts: seq });

/**
 * Who may watch a topic and who may publish a marker after the message under test: the marker
 * comes after it on the watcher's connection, so a message that was not dropped would be seen.
 */
function watchOf(topic: string): { watcher: Who; marker: Who | "hub" } | null {
  if (topic === EVENTS_TOPIC) return { watcher: "dispatch", marker: "hub" };
  if (/^locus\/vehicles\/[^/]+\/(location|status)$/.test(topic)) {
    return { watcher: "map", marker: "anonymous" };
  }
  const owntracks = /^owntracks\/(truck-[12])\//.exec(topic);
  if (owntracks) return { watcher: owntracks[1] as Who, marker: owntracks[1] as Who };
  return null;
}

function markerFor(topic: string, payload: string): string {
  if (topic.endsWith("/status")) return payload === "offline" ? "online" : "offline";
  if (topic.endsWith("/location")) return fix(999);
  return "marker";
}

type Expected = "delivered" | MqttRefusal;

const PUBLISH_ROWS: [Who, string, boolean, string, Expected][] = [
  ["truck-1", "locus/vehicles/truck-1/location", false, fix(1), "delivered"],
  ["truck-1", "locus/vehicles/truck-1/status", true, "online", "delivered"],
  ["truck-1", "owntracks/truck-1/phone", true, '{"_type":"location"}', "delivered"],
  ["truck-1", "owntracks/truck-1/phone/event", false, "{}", "delivered"],
  ["truck-1", "locus/vehicles/truck-2/location", false, fix(1), "forbidden_publish"],
  ["truck-1", "locus/vehicles/truck-2/status", true, "offline", "forbidden_publish"],
  ["truck-1", "owntracks/truck-2/phone", false, "{}", "forbidden_publish"],
  ["truck-1", EVENTS_TOPIC, false, '{"type":"enter"}', "forbidden_publish"],
  ["truck-1", "locus/vehicles/truck-1/location", true, fix(1), "forbidden_retain"],
  ["truck-1", "locus/vehicles/truck-1/status", true, "hello", "bad_status"],
  ["truck-1", "$SYS/broker/x", false, "x", "forbidden_publish"],
  ["dispatch", EVENTS_TOPIC, false, '{"type":"enter"}', "forbidden_publish"],
  ["dispatch", "locus/vehicles/truck-1/location", false, fix(1), "forbidden_publish"],
  ["map", EVENTS_TOPIC, false, '{"type":"enter"}', "forbidden_publish"],
  ["map", "locus/vehicles/truck-1/status", true, "online", "forbidden_publish"],
  ["anonymous", "locus/vehicles/truck-2/location", false, fix(1), "delivered"],
  ["anonymous", "locus/vehicles/truck-2/status", true, "offline", "delivered"],
  ["anonymous", "owntracks/truck-2/phone", true, '{"_type":"location"}', "delivered"],
  ["anonymous", "owntracks/truck-2/phone/event", false, "{}", "forbidden_publish"],
  ["anonymous", EVENTS_TOPIC, false, '{"type":"enter"}', "forbidden_publish"],
  ["anonymous", "locus/vehicles/truck-2/status", true, "hello", "bad_status"],
  ["anonymous", "locus/vehicles/truck-2/location", true, fix(1), "forbidden_retain"],
  ["anonymous", "locus/other", false, "x", "forbidden_publish"],
];

describe("publish: allowed arrives, forbidden is dropped, reaches nobody and is counted", () => {
  it.each(PUBLISH_ROWS)(
    "%s on %s (retain %s) %s: %s",
    async (who, topic, retain, payload, expected) => {
      const b = await open();
      const watch = watchOf(topic);
      let inbox: Inbox | null = null;
      if (watch) {
        const watcher = await b.connect(watch.watcher);
        inbox = new Inbox(watcher);
        const [granted] = await watcher.subscribeAsync(topic, { qos: 1 });
        expect(granted?.qos).toBe(1);
      }
      const publisher = await b.connect(who);
      // QoS 1: a forbidden message is still acknowledged (MQTT 3.1.1 cannot say no), so this resolves.
      await publisher.publishAsync(topic, payload, { qos: 1, retain });
      expect(publisher.connected).toBe(true);
      if (expected === "delivered") {
        if (inbox) await inbox.until(topic, payload);
        return;
      }
      expect(await b.refused(expected)).toBe(1);
      if (watch && inbox) {
        const marker = markerFor(topic, payload);
        if (watch.marker === "hub") await b.broker.publish(topic, marker);
        else await (await b.connect(watch.marker)).publishAsync(topic, marker, { qos: 1 });
        const before = await inbox.until(topic, marker);
        expect(before).toEqual([]);
      }
      // Nothing of it was retained for a later subscriber either.
      expect(b.broker.retained.messages).toBe(0);
    },
  );

  it("never stores a fix published on another vehicle's topic", async () => {
    const b = await open();
    const truck = await b.connect("truck-1");
    await truck.publishAsync("locus/vehicles/truck-2/location", fix(1), { qos: 1 });
    const owner = await b.connect("truck-2");
    // Acknowledged after its commit: once this resolves, the store has it.
    await owner.publishAsync("locus/vehicles/truck-2/location", fix(2), { qos: 1 });
    const stored = await b.store.locations("truck-2", { limit: 10 });
    expect(stored.map((f) => f.seq)).toEqual([2]);
  });

  it("keeps the retained status when a status other than online/offline comes", async () => {
    const b = await open();
    const truck = await b.connect("truck-1");
    await truck.publishAsync("locus/vehicles/truck-1/status", "online", { qos: 1, retain: true });
    await truck.publishAsync("locus/vehicles/truck-1/status", "hello", { qos: 1, retain: true });
    expect(await b.refused("bad_status")).toBe(1);
    const late = await b.connect("map");
    const inbox = new Inbox(late);
    await late.subscribeAsync("locus/vehicles/truck-1/status", { qos: 1 });
    await inbox.until("locus/vehicles/truck-1/status", "online");
    expect(inbox.messages).toEqual([
      { topic: "locus/vehicles/truck-1/status", payload: "online", retain: true },
    ]);
    expect((await b.store.getVehicle("truck-1"))?.status).toBe("online");
  });
});

const SUBSCRIBE_ROWS: [Who, string, boolean][] = [
  ["truck-1", "locus/vehicles/truck-1/#", true],
  ["truck-1", "locus/vehicles/truck-1/status", true],
  ["truck-1", "owntracks/truck-1/#", true],
  ["truck-1", "locus/vehicles/truck-2/#", false],
  ["truck-1", "locus/vehicles/+/#", false],
  ["truck-1", "owntracks/+/+", false],
  ["truck-1", EVENTS_TOPIC, false],
  ["truck-1", "#", false],
  ["truck-1", "+/#", false],
  ["truck-1", "locus/#", false],
  ["truck-1", "$SYS/#", false],
  ["dispatch", EVENTS_TOPIC, true],
  ["dispatch", "locus/vehicles/+/location", false],
  ["dispatch", "locus/geofence/#", false],
  ["dispatch", "#", false],
  ["map", EVENTS_TOPIC, true],
  ["map", "locus/vehicles/+/location", true],
  ["map", "locus/vehicles/+/status", true],
  ["map", "locus/vehicles/truck-1/location", true],
  ["map", "locus/vehicles/+/#", false],
  ["map", "owntracks/#", false],
  ["map", "#", false],
  ["anonymous", EVENTS_TOPIC, true],
  ["anonymous", "locus/vehicles/+/location", false],
  ["anonymous", "locus/vehicles/truck-1/status", false],
  ["anonymous", "#", false],
];

/**
 * The SUBACK return codes for one SUBSCRIBE. mqtt.js rejects a SUBACK holding a failure code,
 * with the packet attached.
 */
async function subackCodes(client: MqttClient, filters: string | string[]): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    return granted.map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw err;
    return granted;
  }
}

describe("subscribe: a forbidden filter gets the failure return code in SUBACK", () => {
  it.each(SUBSCRIBE_ROWS)("%s subscribing to %s: allowed %s", async (who, filter, allowed) => {
    const b = await open();
    const client = await b.connect(who);
    expect(await subackCodes(client, filter)).toEqual([allowed ? 1 : 128]);
    expect(await b.refused("forbidden_subscribe")).toBe(allowed ? 0 : 1);
    expect(client.connected).toBe(true);
  });

  it("answers each filter of one SUBSCRIBE on its own", async () => {
    const b = await open();
    const truck = await b.connect("truck-1");
    const codes = await subackCodes(truck, [
      "locus/vehicles/truck-1/#",
      "locus/vehicles/truck-2/#",
    ]);
    expect(codes).toEqual([1, 128]);
    expect(await b.refused("forbidden_subscribe")).toBe(1);
  });

  it("delivers nothing on a refused filter", async () => {
    const b = await open();
    const truck = await b.connect("truck-1");
    const inbox = new Inbox(truck);
    const codes = await subackCodes(truck, [
      "locus/vehicles/+/location",
      "locus/vehicles/truck-1/#",
    ]);
    expect(codes).toEqual([128, 1]);
    const other = await b.connect("truck-2");
    await other.publishAsync("locus/vehicles/truck-2/location", fix(1), { qos: 1 });
    await truck.publishAsync("locus/vehicles/truck-1/location", fix(2), { qos: 1 });
    const before = await inbox.until("locus/vehicles/truck-1/location", fix(2));
    expect(before).toEqual([]);
  });
});

/** The CONNACK return code a connection attempt got (0: connected). */
async function connackCode(b: SecuredBroker, who: Who, password?: string): Promise<number> {
  try {
    const extra = password === undefined ? {} : { password };
    const client: MqttClient = await b.connect(who, extra);
    await client.endAsync(true);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe("login: bad credentials get CONNACK not authorized", () => {
  it("refuses a wrong password and an unknown username, and counts them", async () => {
    const b = await open();
    expect(await connackCode(b, "truck-1", "wrong")).toBe(5);
    expect(await connackCode(b, "truck-1")).toBe(0);
    const stranger = b.connect("anonymous", { username: "stranger", password: "x" });
    await expect(stranger).rejects.toMatchObject({ code: 5 });
    expect(await b.refused("bad_credentials")).toBe(2);
  });

  it("lets anonymous clients in only where allowed", async () => {
    const open1 = await open(false);
    expect(await connackCode(open1, "anonymous")).toBe(5);
    expect(await open1.refused("anonymous_not_allowed")).toBe(1);
    expect(await connackCode(open1, "truck-1")).toBe(0);
    await open1.close();
    const open2 = await open(true);
    expect(await connackCode(open2, "anonymous")).toBe(0);
  });

  it("refuses a client id that another account holds, and keeps the holder connected", async () => {
    const b = await open();
    const truck = await b.connect("truck-1", { clientId: "shared-id" });
    const intruder = b.connect("truck-2", { clientId: "shared-id" });
    await expect(intruder).rejects.toMatchObject({ code: 2 });
    expect(await b.refused("client_id_taken")).toBe(1);
    expect(truck.connected).toBe(true);
  });
});

describe("sessions: a rotated or revoked password ends the account's connections", () => {
  it("disconnects every connection of that username and no other", async () => {
    const b = await open();
    const first = await b.connect("truck-1");
    const second = await b.connect("truck-1");
    const other = await b.connect("truck-2");
    const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once("close", resolve));
    const gone = Promise.all([closed(first), closed(second)]);
    b.passwords.set("truck-1", "rotated");
    await new EmbeddedBrokerAccounts(b.broker).upsert("truck-1");
    await gone;
    expect(other.connected).toBe(true);
    expect(await connackCode(b, "truck-1")).toBe(5);
    expect(await connackCode(b, "truck-1", "rotated")).toBe(0);
    expect(await b.broker.disconnectSessions("nobody")).toBe(0);
  });
});

describe("retained messages: bounded", () => {
  it("refuses a retained message beyond the limit and counts it; replacing one still works", async () => {
    const b = await open(true, 2);
    const anon = await b.connect("anonymous");
    for (const id of ["v1", "v2", "v3"]) {
      await anon.publishAsync(`locus/vehicles/${id}/status`, "online", { qos: 1, retain: true });
    }
    await anon.publishAsync("locus/vehicles/v1/status", "offline", { qos: 1, retain: true });
    expect(await b.refused("retained_limit")).toBe(1);
    expect(b.broker.retained.messages).toBe(2);
    const late = await b.connect("map");
    const inbox = new Inbox(late);
    await late.subscribeAsync("locus/vehicles/+/status", { qos: 1 });
    await anon.publishAsync("locus/vehicles/v3/status", "offline", { qos: 1 });
    const retained = await inbox.until("locus/vehicles/v3/status", "offline");
    expect(retained.map((m) => [m.topic, m.payload]).sort()).toEqual([
      ["locus/vehicles/v1/status", "offline"],
      ["locus/vehicles/v2/status", "online"],
    ]);
  });
});

describe("persistent sessions: taken over, they carry nothing to whoever may not read it", () => {
  /** Connects as `who` with a kept session under `clientId`, recording from the first message. */
  async function resume(b: SecuredBroker, who: Who, clientId: string) {
    const client = mqtt.connect(b.broker.url, {
      ...credentials(who),
      clientId,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const inbox = new Inbox(client);
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    return { client, inbox };
  }

  it("delivers a vehicle's queued messages to it, and not to another account resuming its session", async () => {
    const b = await open();
    const topic = "locus/vehicles/truck-1/location";
    const owner = await resume(b, "truck-1", "kept-session");
    await owner.client.subscribeAsync("locus/vehicles/truck-1/#", { qos: 1 });
    await owner.client.endAsync();
    const anon = await b.connect("anonymous");
    // Queued for the offline session; its owner gets it on return.
    await anon.publishAsync(topic, fix(1), { qos: 1 });
    const back = await resume(b, "truck-1", "kept-session");
    await back.inbox.until(topic, fix(1));
    await back.client.endAsync();
    await anon.publishAsync(topic, fix(2), { qos: 1 });
    const intruder = await resume(b, "truck-2", "kept-session");
    await intruder.client.subscribeAsync("locus/vehicles/truck-2/#", { qos: 1 });
    await intruder.client.publishAsync("locus/vehicles/truck-2/status", "online", { qos: 1 });
    const before = await intruder.inbox.until("locus/vehicles/truck-2/status", "online");
    expect(before).toEqual([]);
    await intruder.client.endAsync(true);
  });
});
