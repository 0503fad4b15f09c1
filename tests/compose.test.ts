// The deployment files, tested without a Docker engine: docker-compose.yml and the Dockerfile
// are parsed and checked against what the tests run (the same Mosquitto config, the same
// migrations, applied by the same hub code the image bundles), and the health checks they
// declare are run against the real programs.

import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MIGRATIONS } from "../hub/src/store/postgres-schema.ts";
import {
  CONTAINER_CERTS_DIR,
  CONTAINER_CONFIG_DIR,
  CONTAINER_DATA_DIR,
  HUB_USER,
  type HubEnvironment,
  INFRA_MOSQUITTO,
  mosquittoBinary,
  openHubEnvironment,
} from "./support/broker.ts";
import { api, freePort, type HubProcess } from "./support/hub-process.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

const compose = parse(read("docker-compose.yml"));
/** `${name}` as compose writes a variable reference. */
const ref = (name: string) => `\${${name}}`;
const services: Record<string, any> = compose.services;
const dockerfile = read("Dockerfile");

/** A service's volumes as [source, target, options]. */
function volumes(service: string): [string, string, string | undefined][] {
  return (services[service].volumes ?? []).map((v: string) => {
    const [source, target, opts] = v.split(":");
    return [source as string, target as string, opts];
  });
}

/** "host:container" port mappings, with ${VAR:-default} resolved to its default. */
function ports(service: string): string[] {
  return (services[service].ports ?? []).map((p: string) =>
    p.replace(/\$\{[A-Z_]+:-(\d+)\}/, "$1"),
  );
}

describe("docker-compose.yml", () => {
  it("runs mosquitto, postgis and the hub, with health checks and named data volumes", () => {
    expect(Object.keys(services).sort()).toEqual(["hub", "mosquitto", "postgis"]);
    expect(services.mosquitto.image).toBe("eclipse-mosquitto:2");
    expect(services.postgis.image).toMatch(/^postgis\/postgis:1[5-9]-3\.\d+$/);
    expect(services.hub.build).toMatchObject({ context: ".", dockerfile: "Dockerfile" });
    for (const name of Object.keys(services)) {
      expect(services[name].healthcheck?.test, name).toBeDefined();
      expect(services[name].restart, name).toBe("unless-stopped");
    }
    expect(ports("hub")).toEqual(["3000:3000"]);
    // Devices get MQTT over TLS; plain MQTT only on the host's loopback.
    expect(ports("mosquitto")).toEqual(["8883:8883", "127.0.0.1:1883:1883"]);
    expect(services.postgis.ports).toBeUndefined(); // the database stays on the compose network
    const named = Object.keys(compose.volumes);
    expect(volumes("mosquitto")).toContainEqual(["mosquitto-data", "/mosquitto/data", undefined]);
    expect(volumes("postgis")).toContainEqual([
      "postgis-data",
      "/var/lib/postgresql/data",
      undefined,
    ]);
    expect(volumes("hub")).toContainEqual(["hub-data", "/data", undefined]);
    expect(named.sort()).toEqual(["hub-data", "mosquitto-data", "postgis-data"]);
  });

  it("mounts the very Mosquitto config and start script the tests run, where they expect them", () => {
    const config = volumes("mosquitto").find(([, target]) => `${target}/` === CONTAINER_CONFIG_DIR);
    expect(config).toEqual(["./infra/mosquitto", "/mosquitto/config", "ro"]);
    expect(path.resolve(ROOT, config?.[0] ?? "")).toBe(INFRA_MOSQUITTO);
    expect(volumes("mosquitto").map(([, t]) => `${t}/`)).toContain(CONTAINER_DATA_DIR);
    expect(volumes("mosquitto")).toContainEqual(["./certs", "/mosquitto/certs", "ro"]);
    expect(volumes("mosquitto").map(([, t]) => `${t}/`)).toContain(CONTAINER_CERTS_DIR);
    expect(services.mosquitto.command).toEqual(["sh", `${CONTAINER_CONFIG_DIR}start.sh`]);
    // start.sh's default config is the mounted one.
    expect(read("infra/mosquitto/start.sh")).toContain(
      `MOSQUITTO_CONF:-${CONTAINER_CONFIG_DIR}mosquitto.conf`,
    );
    // Every file the config names lives in the mounted directories or the data volume.
    const conf = read("infra/mosquitto/mosquitto.conf");
    const paths = [
      ...conf.matchAll(/^(plugin_opt_config_file|persistence_location|certfile|keyfile) (\S+)$/gm),
    ];
    expect(paths.map((m) => m[1]).sort()).toEqual([
      "certfile",
      "keyfile",
      "persistence_location",
      "plugin_opt_config_file",
    ]);
    for (const [, , p] of paths) {
      expect(
        [CONTAINER_CONFIG_DIR, CONTAINER_DATA_DIR, CONTAINER_CERTS_DIR].some((d) =>
          p?.startsWith(d),
        ),
        p,
      ).toBe(true);
    }
    // The accounts file is in the data volume: the plugin rewrites it.
    expect(conf).toMatch(/^plugin_opt_config_file \/mosquitto\/data\//m);
    expect(fs.existsSync(path.join(INFRA_MOSQUITTO, "dynamic-security.template.json"))).toBe(true);
    expect(conf).toMatch(/^listener 1883$/m);
    expect(conf).toMatch(/^listener 8883$/m);
  });

  it("points the hub at the broker and the database, after both are healthy", () => {
    const hub = services.hub;
    expect(hub.depends_on).toEqual({
      mosquitto: { condition: "service_healthy" },
      postgis: { condition: "service_healthy" },
    });
    expect(hub.env_file).toBe(".env");
    expect(hub.environment.LOCUS_MQTT_URL).toBe("mqtt://mosquitto:1883");
    const db = new URL(
      hub.environment.LOCUS_DATABASE_URL.replace(/\$\{(\w+)(:-([^}]*))?\}/g, "$3"),
    );
    expect(db.protocol).toBe("postgres:");
    expect(db.host).toBe("postgis:5432");
    expect(hub.environment.LOCUS_DATABASE_URL).toContain(`${ref("POSTGRES_USER:-locus")}:`);
    expect(hub.environment.LOCUS_DATABASE_URL).toContain(`${ref("POSTGRES_PASSWORD")}@`);
    expect(hub.environment.LOCUS_DATABASE_URL).toMatch(/\/\$\{POSTGRES_DB:-locus\}$/);
    expect(services.postgis.environment.POSTGRES_DB).toBe(ref("POSTGRES_DB:-locus"));
    expect(hub.environment.LOCUS_HTTP_HOST).toBe("0.0.0.0");
    expect(hub.environment.LOCUS_DATA_DIR).toBe("/data");
    expect(hub.stop_grace_period).toBeDefined();
  });

  it("has no SQL of its own: the schema comes only from the hub's migrations", () => {
    for (const name of Object.keys(services)) {
      for (const [source, target] of volumes(name)) {
        expect(target, `${name} mounts ${source}`).not.toMatch(/docker-entrypoint-initdb/);
      }
      expect(services[name].entrypoint, name).toBeUndefined();
    }
    expect(services.hub.command).toBeUndefined(); // the image's CMD: the hub, which migrates
    const sqlFiles = (dir: string): string[] =>
      fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        if (e.isDirectory()) return sqlFiles(path.join(dir, e.name));
        return e.name.endsWith(".sql") ? [path.join(dir, e.name)] : [];
      });
    expect(sqlFiles("infra")).toEqual([]);
    expect(dockerfile).not.toMatch(/\.sql\b|psql|initdb/);
  });

  it("lists every setting in .env.example, and defines what compose interpolates", () => {
    const example = read(".env.example");
    const settings = [...read("hub/src/config.ts").matchAll(/"(LOCUS_[A-Z_]+)"/g)].map((m) => m[1]);
    expect(settings.length).toBeGreaterThan(15);
    for (const s of new Set(settings)) {
      expect(example, s).toMatch(new RegExp(`^#? ?${s}=`, "m"));
    }
    const defined = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
    const used = [...read("docker-compose.yml").matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]);
    for (const v of new Set(used)) expect(defined, v).toContain(v);
    // The secrets stay out of the image's build context.
    const ignored = read(".dockerignore").split("\n");
    expect(ignored).toEqual(expect.arrayContaining([".env", "**/node_modules", "certs"]));
  });
});

describe("Dockerfile", () => {
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];

  it("builds in one stage and runs from another, on the same base image", () => {
    expect(stages.map((m) => m[2])).toEqual(["build", "runtime"]);
    expect(stages.map((m) => m[1])).toEqual([ref("NODE_IMAGE"), ref("NODE_IMAGE")]);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:(20|22)[\w.-]*$/m);
    const build = dockerfile.slice(0, dockerfile.indexOf("AS runtime"));
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"));
    expect(build).toMatch(/RUN npm ci --no-audit/);
    expect(build).toMatch(/RUN node infra\/hub\/bundle\.mjs dist\/hub/);
    expect(build).toMatch(/RUN npm ci --omit=dev --workspace=hub/);
    expect(runtime).toMatch(/COPY --from=build \/app\/node_modules node_modules/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist\/hub dist\/hub/);
    expect(runtime).not.toMatch(/npm (ci|install)|tsx/);
  });

  it("runs the bundled hub as a non-root user, with a health check on /api/v1/health", () => {
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD .*\/api\/v1\/health/m);
    expect(dockerfile).toMatch(
      /^CMD \["node", "--max-semi-space-size=64", "--enable-source-maps", "dist\/hub\/main\.mjs"\]$/m,
    );
    expect(read("infra/hub/bundle.mjs")).toContain('export const ENTRY = "hub/src/main.ts"');
  });
});

/**
 * Where pg_isready is. Without it, one SKIPPING line saying what to install; under CI=true the
 * test fails instead, as a missing PostgreSQL or Mosquitto does.
 */
function pgIsReadyDir(): string | null {
  const dir = ["/usr/lib/postgresql/15/bin", "/usr/bin"].find((d) =>
    fs.existsSync(path.join(d, "pg_isready")),
  );
  if (dir !== undefined) return dir;
  const line =
    "pg_isready not found: install the Debian package postgresql-client-15 to run the postgis health check";
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return null;
}

describe.runIf(mosquittoBinary() !== null)("the declared health checks and the bundled hub", () => {
  let environment: HubEnvironment | null = null;
  const bundleDir = path.join(ROOT, "dist", `hub-test-${process.pid}`);
  let hub: HubProcess | null = null;

  beforeAll(async () => {
    environment = await openHubEnvironment("production", { vehicles: ["compose-1"] });
    execFileSync(process.execPath, ["infra/hub/bundle.mjs", bundleDir], { cwd: ROOT });
  });

  afterAll(async () => {
    if (hub) await hub.stop("SIGKILL");
    await environment?.close();
    fs.rmSync(bundleDir, { recursive: true, force: true });
  });

  /** A CMD-SHELL health check as compose would run it (`$$` is compose's escaped `$`). */
  function shellCheck(service: string): string {
    const [kind, command] = services[service].healthcheck.test;
    expect(kind).toBe("CMD-SHELL");
    return (command as string).replaceAll("$$", "$");
  }

  it("mosquitto's check passes with the hub's credentials and fails with others", async (ctx) => {
    if (environment === null) return ctx.skip();
    const port = String(environment.mosquitto?.port);
    const command = shellCheck("mosquitto").replace("-p 1883", `-p ${port}`);
    const env = { PATH: process.env.PATH ?? "", LOCUS_MQTT_USERNAME: HUB_USER };
    await run("sh", ["-c", command], { env: { ...env, LOCUS_MQTT_PASSWORD: `pw-${HUB_USER}` } });
    await expect(
      run("sh", ["-c", command], { env: { ...env, LOCUS_MQTT_PASSWORD: "wrong" } }),
    ).rejects.toThrow();
  });

  it("postgis's check is pg_isready, which passes on a running server", async (ctx) => {
    if (environment === null) return ctx.skip();
    const url = new URL(environment.env.LOCUS_DATABASE_URL as string);
    const binDir = pgIsReadyDir();
    if (binDir === null) return ctx.skip();
    const command = shellCheck("postgis").replace("-h 127.0.0.1", `-h 127.0.0.1 -p ${url.port}`);
    await run("sh", ["-c", command], {
      env: {
        PATH: `${binDir}:${process.env.PATH ?? ""}`,
        POSTGRES_USER: decodeURIComponent(url.username),
        POSTGRES_DB: url.pathname.slice(1),
      },
    });
  });

  it("runs the image's bundle against Mosquitto and PostgreSQL: it migrates, serves and ingests", async (ctx) => {
    if (environment === null) return ctx.skip();
    hub = await environment.startHub({ bundle: path.join(bundleDir, "main.mjs") });
    // The migrations the tests exercise are the ones the bundled hub applied at its start.
    const client = new pg.Client({ connectionString: environment.env.LOCUS_DATABASE_URL });
    await client.connect();
    try {
      const applied = await client.query<{ version: number }>(
        "SELECT version FROM schema_migrations ORDER BY version",
      );
      expect(applied.rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await client.end();
    }
    // The hub's declared health check, as the container would run it.
    const [kind, ...argv] = services.hub.healthcheck.test as string[];
    expect(kind).toBe("CMD");
    const port = new URL(hub.httpUrl).port;
    const check = argv.map((a) => a.replace("127.0.0.1:3000", `127.0.0.1:${port}`));
    expect(check[0]).toBe("node");
    await run(process.execPath, check.slice(1));
    const docs = await fetch(`${hub.httpUrl}/docs`);
    expect(docs.status).toBe(200);
    expect((await api(hub, "GET", "/api/v1/geofences")).status).toBe(200);
    expect(await hub.stop("SIGTERM")).toBe(0);
    hub = null;
    // With nothing listening, the same check fails.
    const nobody = String(await freePort());
    await expect(
      run(
        process.execPath,
        argv.slice(1).map((a) => a.replace("127.0.0.1:3000", `127.0.0.1:${nobody}`)),
      ),
    ).rejects.toThrow();
  });
});
