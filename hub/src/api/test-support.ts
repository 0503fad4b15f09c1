// Shared set-up for the API tests: a real SQLite store in a fresh temporary directory, a fence
// registry backed by a Map, and a small helper for authenticated requests.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { Registry } from "prom-client";
import { AccountService, type AccountServiceOptions } from "../identity/accounts.ts";
import { LoginLinks } from "../identity/login-links.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { GeofenceRecord } from "../store/store.ts";
import {
  DEFAULT_WEBHOOK_SETTINGS,
  WebhookDispatcher,
  type WebhookSettings,
} from "../webhooks/dispatcher.ts";
import { buildApi } from "./app.ts";
import type { ApiDeps, FenceRegistry, HealthReport } from "./deps.ts";

export const TOKEN = "test-token-0123456789abcdef";

/** The simplest real registry: the geofences the engine would know, by id. */
export class MapFenceRegistry implements FenceRegistry {
  readonly fences = new Map<string, GeofenceRecord>();
  upsert(record: GeofenceRecord): void {
    this.fences.set(record.id, record);
  }
  remove(id: string): void {
    this.fences.delete(id);
  }
  has(id: string): boolean {
    return this.fences.has(id);
  }
  /** Who is inside each fence, as a test sets it (the engine works it out from fixes). */
  readonly inside = new Map<string, string[]>();
  vehiclesInside(id: string): string[] {
    return this.inside.get(id) ?? [];
  }
}

export interface TestApi {
  app: FastifyInstance;
  deps: ApiDeps;
  store: SqliteStore;
  fences: MapFenceRegistry;
  /** What deps.health() answers; tests may change it. */
  health: HealthReport;
  /** With `webhooks` settings given to startApi: the dispatcher behind the webhook routes. */
  webhooks: WebhookDispatcher | null;
  close(): Promise<void>;
}

/** An app on a fresh store in its own temporary directory; `accounts` tunes its account service. */
export async function startApi(
  overrides: Partial<ApiDeps> = {},
  accounts: Partial<AccountServiceOptions> = {},
  /** Settings of a webhook dispatcher on the app's store (webhook routes are served then). */
  webhookSettings?: Partial<WebhookSettings>,
): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), "locus-api-"));
  const store = new SqliteStore(join(dir, "locus.db"), { synchronous: "normal" });
  const webhooks =
    webhookSettings === undefined
      ? null
      : new WebhookDispatcher({
          store,
          settings: { ...DEFAULT_WEBHOOK_SETTINGS, ...webhookSettings },
        });
  await webhooks?.start();
  const fences = new MapFenceRegistry();
  const metrics = new Registry();
  metrics.setDefaultLabels({ app: "locus-test" });
  const state: { health: HealthReport } = {
    health: { ok: true, checks: { broker: "ok", store: "ok" } },
  };
  const deps: ApiDeps = {
    store,
    fences,
    token: TOKEN,
    // scrypt at its lowest sensible cost: the tests issue many passwords, none of them secret.
    accounts: new AccountService({ store, cost: { N: 2 ** 10, r: 8, p: 1 }, ...accounts }),
    loginLinks: new LoginLinks(),
    metrics,
    health: async () => state.health,
    bodyLimitBytes: 8 * 1024 * 1024,
    maxVertices: 100_000,
    ...(webhooks === null ? {} : { webhooks }),
    ...overrides,
  };
  const app = await buildApi(deps);
  await app.ready();
  return {
    app,
    deps,
    store,
    fences,
    webhooks,
    get health() {
      return state.health;
    },
    set health(report: HealthReport) {
      state.health = report;
    },
    async close() {
      await app.close();
      await webhooks?.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An injected request with the right token (unless headers say otherwise). */
export function call(
  app: FastifyInstance,
  method: InjectOptions["method"],
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = {
    method,
    url,
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
  };
  if (payload !== undefined) options.payload = payload as InjectOptions["payload"];
  return app.inject(options);
}

/** Asserts the contract's error shape and returns the message. */
export function errorMessage(response: LightMyRequestResponse, status: number): string {
  const body = response.json() as Record<string, unknown>;
  if (response.statusCode !== status) {
    throw new Error(`expected ${status}, got ${response.statusCode}: ${response.body}`);
  }
  const keys = Object.keys(body).sort().join(",");
  if (keys !== "error,message,statusCode" || body.statusCode !== status) {
    throw new Error(`not the error shape: ${response.body}`);
  }
  if (typeof body.message !== "string" || body.message.length < 10) {
    throw new Error(`unhelpful message: ${response.body}`);
  }
  return body.message;
}

/** A counter-clockwise square polygon ring around (lon, lat), `half` degrees each side. */
export function square(lon: number, lat: number, half = 0.01): number[][] {
  return [
    [lon - half, lat - half],
    [lon + half, lat - half],
    [lon + half, lat + half],
    [lon - half, lat + half],
    [lon - half, lat - half],
  ];
}

export function polygonFeature(name: string, ring = square(-118.24, 34.05), extra = {}) {
  return {
    type: "Feature",
    geometry: { type: "Polygon", coordinates: [ring] },
    properties: { name, ...extra },
  };
}
