// Updates published while a client's snapshot is being read reach it after the snapshot: the
// client's feed starts before the read. The store's geofence read is held until the test has
// published, so the order is certain rather than a matter of timing.

import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { LiveFeed } from "../live/feed.ts";
import { openStream } from "./stream-test-support.ts";
import { startApi, type TestApi, TOKEN } from "./test-support.ts";

let t: TestApi | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

it("sends what happened during the snapshot's read after the snapshot", async () => {
  const feed = new LiveFeed();
  const quiet = () => {};
  t = await startApi({
    stream: {
      feed,
      limits: {
        maxClients: 10,
        highWaterBytes: 1 << 20,
        maxQueuedMessages: 100,
        maxQueuedBytes: 1 << 20,
        stallTimeoutMs: 30_000,
        flushIntervalMs: 20,
      },
      authTimeoutMs: 10_000,
      metrics: { sent: quiet, coalesced: quiet, tooSlow: quiet, clients: quiet, heldBytes: quiet },
    },
  });
  const store = t.store;
  const read = store.allGeofences.bind(store);
  let reading = () => {};
  const readStarted = new Promise<void>((resolve) => {
    reading = resolve;
  });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  store.allGeofences = async () => {
    reading();
    await released;
    return read();
  };
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = t.app.server.address() as AddressInfo;

  const client = await openStream({ httpUrl: `http://127.0.0.1:${port}` }, { token: TOKEN });
  await readStarted;
  feed.publishStatus("during-1", "offline");
  feed.publishFixes([
    { vehicle_id: "during-1", latitude: 1, longitude: 2, ts: 1_000_000, ts_given: true },
  ]);
  feed.publishGeofenceDeleted("gone-1");
  release();

  await client.next((m) => m.type === "fixes");
  await client.next((m) => m.type === "geofence");
  expect(client.messages[0].type).toBe("snapshot");
  expect(client.messages.slice(1)).toEqual(
    expect.arrayContaining([
      { type: "status", vehicle_id: "during-1", status: "offline" },
      { type: "geofence", op: "delete", id: "gone-1" },
      {
        type: "fixes",
        fixes: [
          { vehicle_id: "during-1", ts: "1970-01-01T00:16:40.000Z", latitude: 1, longitude: 2 },
        ],
      },
    ]),
  );
  expect(client.messages).toHaveLength(4);
  client.ws.close();
  await client.closed;
});
