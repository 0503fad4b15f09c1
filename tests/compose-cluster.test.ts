// docker-compose.cluster.yml, tested without a Docker engine: parsed and checked against what the
// tests run (the engine nodes' configuration is infra/nats/nats.conf, which
// tests/nats-config.test.ts runs), and each hub's environment, with .env.example's values, is
// read by the hub's own configuration loader.

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../hub/src/config.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");
const text = read("docker-compose.cluster.yml");
const compose = parse(text, { merge: true });
const services: Record<string, any> = compose.services;
const example = Object.fromEntries(
  [...read(".env.example").matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]),
);

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, from .env.example. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::[-?][^}]*)?\}/g, (_, name: string) => {
    const found = example[name];
    if (found === undefined) throw new Error(`${name} is not in .env.example`);
    return found;
  });
}

describe("docker-compose.cluster.yml", () => {
  it("runs three engine nodes, PostgreSQL and two hubs, each with a health check", () => {
    expect(Object.keys(services).sort()).toEqual([
      "hub-1",
      "hub-2",
      "nats-1",
      "nats-2",
      "nats-3",
      "postgis",
    ]);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, name).toBeDefined();
      expect(service.restart, name).toBe("unless-stopped");
    }
    // The version measured in docs/scaling.md, pinned.
    for (const n of [1, 2, 3]) expect(services[`nats-${n}`].image).toBe("nats:2.9.10-alpine");
    expect(services["hub-1"].build).toMatchObject({ context: ".", dockerfile: "Dockerfile" });
  });

  it("runs the tested engine configuration on every node, on the compose network only", () => {
    const names = new Set<string>();
    for (const n of [1, 2, 3]) {
      const node = services[`nats-${n}`];
      expect(node.entrypoint.join(" ")).toContain("exec nats-server -c /etc/nats/nats.conf");
      expect(node.volumes).toEqual(["./infra/nats:/etc/nats:ro", `nats-${n}-data:/data`]);
      expect(node.ports).toBeUndefined();
      const env = node.environment;
      names.add(env.NATS_SERVER_NAME);
      // Every variable the configuration file reads is set ($JS.API.> and such are subjects).
      for (const variable of read("infra/nats/nats.conf").matchAll(
        /\$([A-Z][A-Z0-9_]*)(?![.\w])/g,
      )) {
        expect(env, `${variable[1]} on nats-${n}`).toHaveProperty(variable[1] as string);
      }
      expect(interpolate(env.NATS_ROUTE_3)).toMatch(/^nats-route:\/\/route:.+@nats-3:6222$/);
    }
    expect(names.size).toBe(3);
  });

  it("gives each hub its own MQTT front, client id and ports, and the engine's three nodes", () => {
    const published = new Set<string>();
    const ids = new Set<string>();
    for (const name of ["hub-1", "hub-2"]) {
      const hub = services[name];
      const env: Record<string, string> = Object.fromEntries(
        Object.entries(hub.environment as Record<string, string>).map(([k, v]) => [
          k,
          interpolate(String(v)),
        ]),
      );
      expect(env.LOCUS_MQTT_URL, name).toBeUndefined();
      ids.add(env.LOCUS_MQTT_CLIENT_ID as string);
      const urls = (env.LOCUS_ENGINE_URL as string).split(",");
      expect(urls.map((u) => new URL(u).host)).toEqual([
        "nats-1:4222",
        "nats-2:4222",
        "nats-3:4222",
      ]);
      expect(new URL(urls[0] as string).password).toBe(example.NATS_HUB_PASSWORD);
      for (const port of hub.ports as string[])
        published.add(interpolate(port).split(":")[0] as string);
      // The hub's own loader takes it as is (the certificate checked aside: not in the repository).
      const config = loadConfig({ ...example, ...env, LOCUS_TLS_CERT: "", LOCUS_TLS_KEY: "" });
      expect(config.engine?.urls).toHaveLength(3);
      expect(config.mqttUrl).toBeNull();
      expect(config.mqtt.allowAnonymous).toBe(false);
      expect(env.LOCUS_TLS_CERT).toBe("/certs/fullchain.pem");
      expect(hub.volumes).toContain("./certs:/certs:ro");
    }
    expect(ids.size).toBe(2);
    expect(published.size).toBe(4);
  });

  it("refuses to start the engine with the example's passwords", () => {
    const script = (services["nats-1"].entrypoint as string[]).join(" ");
    expect(script).toMatch(/case .*NATS_HUB_PASSWORD.*NATS_ROUTE_PASSWORD.*change-me/);
    expect(example.NATS_HUB_PASSWORD).toMatch(/^change-me/);
    expect(text).not.toMatch(/password: *[a-z0-9]/i);
  });
});
