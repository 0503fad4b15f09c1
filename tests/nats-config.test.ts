// The engine's configuration as shipped (infra/nats/nats.conf, run by docker-compose.cluster.yml
// on every node), run here by three real nats-server processes on loopback ports: the nodes
// authenticate each other and form a JetStream cluster, two hubs with the hubs' account share a
// fleet through it, and that account is refused a wrong password and anything outside Locus's
// subjects.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metrics, startTestHub, type TestHub } from "../hub/src/api/stream-test-support.ts";
import { ConfigError } from "../hub/src/config.ts";
import { requireBinary } from "./support/binaries.ts";
import { NATS_SERVER } from "./support/nats-cluster.ts";
import { freePorts, ServerProcess, waitFor } from "./support/node-process.ts";
import { startPostgres, type TestSchema } from "./support/postgres.ts";

const CONFIG = path.resolve(import.meta.dirname, "../infra/nats/nats.conf");
const ROUTE_PASSWORD = "route-secret-for-tests";
const HUB_PASSWORD = "hub-secret-for-tests";

const hasNats = requireBinary("nats-server", "nats-server");
const server = hasNats ? await startPostgres() : null;
afterAll(async () => {
  await server?.stop();
});

/** Three nodes running the shipped file, with what compose sets given for loopback. */
async function startNodes(dir: string) {
  const ports = await freePorts(9);
  const client = ports.slice(0, 3);
  const cluster = ports.slice(3, 6);
  const monitor = ports.slice(6, 9);
  const routes = Object.fromEntries(
    cluster.map((port, i) => [
      `NATS_ROUTE_${i + 1}`,
      `nats-route://route:${ROUTE_PASSWORD}@127.0.0.1:${port}`,
    ]),
  );
  const nodes = [0, 1, 2].map((i) => {
    const store = path.join(dir, `n${i + 1}`);
    fs.mkdirSync(store);
    return new ServerProcess(
      `n${i + 1}`,
      NATS_SERVER,
      ["-c", CONFIG],
      {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        NATS_SERVER_NAME: `n${i + 1}`,
        NATS_CLIENT_LISTEN: `127.0.0.1:${client[i]}`,
        NATS_CLUSTER_LISTEN: `127.0.0.1:${cluster[i]}`,
        NATS_MONITOR_PORT: String(monitor[i]),
        NATS_STORE_DIR: store,
        NATS_ROUTE_PASSWORD: ROUTE_PASSWORD,
        NATS_HUB_PASSWORD: HUB_PASSWORD,
        ...routes,
      },
      path.join(dir, `n${i + 1}.log`),
    );
  });
  for (const node of nodes) node.start();
  // Healthy as the compose health check asks: JetStream up, with a meta leader elected.
  for (const port of monitor) {
    await waitFor(
      `node on ${port} healthy`,
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
      30_000,
      200,
    );
  }
  const urls = (password: string) =>
    client.map((port) => `nats://locus-hub:${password}@127.0.0.1:${port}`);
  return { nodes, urls, monitor };
}

if (server === null || !hasNats) {
  // Only without nats-server or PostgreSQL (a line above says what to install); under CI=true
  // both helpers throw instead, so this suite never skips there.
  describe.skip("infra/nats/nats.conf (nats-server or PostgreSQL not installed)", () => {
    it("needs nats-server and PostgreSQL", () => {});
  });
} else {
  const pgServer = server;

  describe("infra/nats/nats.conf", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-nats-conf-"));
    let engine: Awaited<ReturnType<typeof startNodes>>;
    let schema: TestSchema;
    const hubs: TestHub[] = [];

    beforeAll(async () => {
      engine = await startNodes(dir);
      schema = await pgServer.freshSchema();
    }, 60_000);
    afterAll(async () => {
      for (const h of hubs) await h.close();
      await schema?.drop();
      for (const node of engine?.nodes ?? []) await node.stop("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("checks as valid with nats-server -t", () => {
      const check = spawnSync(NATS_SERVER, ["-t", "-c", CONFIG], {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          NATS_SERVER_NAME: "n1",
          NATS_CLIENT_LISTEN: "127.0.0.1:4222",
          NATS_CLUSTER_LISTEN: "127.0.0.1:6222",
          NATS_MONITOR_PORT: "8222",
          NATS_STORE_DIR: dir,
          NATS_ROUTE_PASSWORD: ROUTE_PASSWORD,
          NATS_ROUTE_1: "nats-route://route:x@127.0.0.1:6222",
          NATS_ROUTE_2: "nats-route://route:x@127.0.0.1:6223",
          NATS_ROUTE_3: "nats-route://route:x@127.0.0.1:6224",
          NATS_HUB_PASSWORD: HUB_PASSWORD,
        },
        encoding: "utf8",
      });
      expect(check.status).toBe(0);
      expect(`${check.stdout}${check.stderr}`).toMatch(/nats\.conf is valid/);
    });

    it("lets two hubs with the hubs' account share a fleet over a three-node cluster", async () => {
      for (const name of ["hub-1", "hub-2"]) {
        hubs.push(
          await startTestHub({
            LOCUS_DATABASE_URL: schema.url,
            LOCUS_ENGINE_URL: engine.urls(HUB_PASSWORD).join(","),
            LOCUS_ENGINE_PARTITIONS: "8",
            LOCUS_ENGINE_LEASE_MS: "2000",
            LOCUS_MQTT_CLIENT_ID: name,
          }),
        );
      }
      const held = async (h: TestHub) =>
        (await metrics(h.hub)).get("locus_engine_partitions_held") ?? 0;
      await waitFor(
        "both hubs to hold partitions",
        async () => (await held(hubs[0] as TestHub)) + (await held(hubs[1] as TestHub)) === 8,
        30_000,
      );
      const device = await mqtt.connectAsync((hubs[1] as TestHub).hub.mqttUrl, {
        reconnectPeriod: 0,
      });
      try {
        for (let i = 0; i < 20; i++) {
          const fix = { latitude: 34.05, longitude: -118.24, ts: Date.now() - 1000 + i, seq: i };
          await device.publishAsync(`locus/vehicles/car-${i}/location`, JSON.stringify(fix), {
            qos: 1,
          });
        }
      } finally {
        await device.endAsync();
      }
      const store = (hubs[0] as TestHub).hub.store;
      await waitFor(
        "the fixes committed by their partitions' owners",
        async () => {
          let n = 0;
          for (let i = 0; i < 20; i++)
            n += (await store.locations(`car-${i}`, { limit: 5 })).length;
          return n === 20;
        },
        30_000,
      );
    });

    it("refuses a wrong password, naming the setting", async () => {
      await expect(
        startTestHub({
          LOCUS_DATABASE_URL: schema.url,
          LOCUS_ENGINE_URL: engine.urls("wrong-password").join(","),
        }),
      ).rejects.toThrow(ConfigError);
    });

    it("keeps the hubs' account to Locus's subjects", async () => {
      const nc = await connect({
        servers: engine.urls(HUB_PASSWORD).map((u) => `nats://${new URL(u).host}`),
        user: "locus-hub",
        pass: HUB_PASSWORD,
        reconnect: false,
      });
      try {
        const errors: string[] = [];
        void (async () => {
          for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.data));
        })();
        nc.publish("other.subject", "x");
        nc.subscribe("other.>");
        await nc.flush();
        await waitFor("permission violations reported", () => errors.length >= 2, 5000);
        expect(errors.join(" ")).toMatch(/PERMISSIONS_VIOLATION/);
      } finally {
        await nc.close();
      }
    });
  });
}
