// Scenario 2b: scenarios 1 and 2 with device authentication on, then again over TLS. The bare
// aedes gets the hub's authentication and nothing else of the hub (harness/bare-auth.ts: scrypt
// once per login, §3 rules on each publish); the hub refuses anonymous clients and every
// publisher logs in as its own vehicle, registered over REST (new ones for each run, as scenario 2
// never reuses vehicles). Runs alternate between the four (aedes, hub, aedes over TLS, hub over
// TLS) so that a shared machine's drift hits both sides alike.

import fs from "node:fs";
import mqtt from "mqtt";
import { hashPassword, newPassword } from "../../hub/src/identity/secrets.ts";
import { hasBinary } from "../../tests/support/binaries.ts";
import { makeTestPki, type TestPki } from "../../tests/support/tls.ts";
import type { BareAccount } from "../harness/bare-auth.ts";
import { type BenchBroker, startAedes } from "../harness/brokers.ts";
import {
  type BenchContext,
  fmt,
  median,
  type Row,
  type Scenario,
  type ScenarioOutcome,
} from "../harness/context.ts";
import { committedFixes } from "../harness/hub.ts";
import { runLoadWindow } from "../harness/load.ts";
import type { Credentials } from "../harness/load-plan.ts";
import { type SecureHub, startSecureHub } from "../harness/secure-hub.ts";
import { processCpuSeconds } from "../harness/versions.ts";
import type { BaselineFigures } from "./baseline.ts";
import { cpuBoundRatio, type HubThroughput } from "./embedded.ts";

/** The ratio each mode is held to: authentication must cost the hub no more than the broker. */
const GOAL = 0.9;
const VEHICLES = "bench-id-v";

/** Where one run publishes and what it counts. */
interface Target {
  url: string;
  ca?: string;
  /** Vehicle v is `${prefix}${v}` and logs in with credentials[v]. */
  prefix: string;
  credentials: Credentials[];
  /** The process whose CPU is the broker's or the hub's. */
  pid: number;
  /** Messages delivered (aedes) or fixes committed (hub) so far. */
  count: () => Promise<number>;
}

interface OneRun {
  rate: number;
  p50: number;
  p99: number;
  connected: number;
  /** CPU per message, µs: publishers, broker or hub, the harness's subscriber. */
  cpu: { publishers: number; server: number | null; subscriber: number };
}

/** The median figures of one side in one mode. */
export interface SideFigures {
  /** Messages delivered (aedes) or fixes committed (hub) per second, median of the runs. */
  perSecond: number;
  runs: number[];
  ackP50Ms: number;
  ackP99Ms: number;
  /** Publishers that logged in, per run (each run logs every one in afresh). */
  connected: number[];
  cpuUsPerMessage: { publishers: number; server: number | null; subscriber: number };
}

export interface ModeFigures {
  aedes: SideFigures;
  hub: SideFigures;
  /** hub fixes/s ÷ aedes messages/s. */
  ratio: number;
  /** The same ratio as the CPU time per message of every process predicts. */
  cpuBoundRatio: number;
}

async function runOnce(ctx: BenchContext, target: Target): Promise<OneRun> {
  const reading = async () => ({
    count: await target.count(),
    cpu: processCpuSeconds(target.pid) ?? Number.NaN,
    own: process.cpuUsage(),
    at: performance.now(),
  });
  const plan = ctx.plan(target.url, target.prefix, {
    credentials: target.credentials,
    ...(target.ca === undefined ? {} : { ca: target.ca }),
  });
  const { result, start, end } = await runLoadWindow(plan, reading);
  const n = end.count - start.count;
  const own = end.own.user + end.own.system - (start.own.user + start.own.system);
  const server = ((end.cpu - start.cpu) / n) * 1e6;
  return {
    rate: n / ((end.at - start.at) / 1000),
    p50: result.ackLatencyMs.p50,
    p99: result.ackLatencyMs.p99,
    connected: result.connected,
    cpu: {
      publishers: result.acked > 0 ? (result.cpuSeconds / result.acked) * 1e6 : Number.NaN,
      server: Number.isFinite(server) && n > 0 ? server : null,
      subscriber: n > 0 ? own / n : Number.NaN,
    },
  };
}

function summarise(runs: OneRun[]): SideFigures {
  const servers = runs.flatMap((r) => (r.cpu.server === null ? [] : [r.cpu.server]));
  return {
    perSecond: median(runs.map((r) => r.rate)),
    runs: runs.map((r) => r.rate),
    ackP50Ms: median(runs.map((r) => r.p50)),
    ackP99Ms: median(runs.map((r) => r.p99)),
    connected: runs.map((r) => r.connected),
    cpuUsPerMessage: {
      publishers: median(runs.map((r) => r.cpu.publishers)),
      server: servers.length > 0 ? median(servers) : null,
      subscriber: median(runs.map((r) => r.cpu.subscriber)),
    },
  };
}

function compare(aedes: SideFigures, hub: SideFigures): ModeFigures {
  const a = aedes.cpuUsPerMessage;
  const h = hub.cpuUsPerMessage;
  return {
    aedes,
    hub,
    ratio: hub.perSecond / aedes.perSecond,
    cpuBoundRatio: cpuBoundRatio(
      { publishers: a.publishers, broker: a.server, subscriber: a.subscriber },
      { cpuUsPerMessage: { publishers: h.publishers, hub: h.server, subscriber: h.subscriber } },
    ),
  };
}

/** The bare aedes's accounts: the same vehicle ids with passwords of their own, and an observer. */
async function bareAccounts(ids: string[]) {
  const observer = { username: "bench-observer", password: newPassword() };
  const vehicles = ids.map((id) => ({ username: id, password: newPassword() }));
  const accounts: BareAccount[] = await Promise.all([
    ...vehicles.map(async (v) => ({
      username: v.username,
      hash: await hashPassword(v.password),
      principal: { kind: "vehicle" as const, id: v.username },
    })),
    hashPassword(observer.password).then((hash) => ({
      username: observer.username,
      hash,
      principal: { kind: "client" as const, name: observer.username, role: "observer" as const },
    })),
  ]);
  return { accounts, vehicles, observer };
}

/** The bare subscriber, logged in as an observer; counts what it receives. */
async function observe(broker: BenchBroker, login: Credentials) {
  const client = await mqtt.connectAsync(broker.url, {
    clientId: "bench-identity-subscriber",
    reconnectPeriod: 0,
    ...login,
  });
  let received = 0;
  client.on("message", () => {
    received++;
  });
  const granted = await client.subscribeAsync("locus/vehicles/+/location", { qos: 1 });
  if (granted.some((g) => g.qos === 128))
    throw new Error("the observer's subscription was refused");
  return { client, received: () => received };
}

function sideRows(mode: string, m: ModeFigures): Row[] {
  const runs = (f: SideFigures) => `(runs ${f.runs.map(fmt.int).join(", ")})`;
  const ratio = m.ratio;
  return [
    {
      measure: `aedes + authentication${mode}: msg/s to a bare subscriber`,
      value: `${fmt.rate(m.aedes.perSecond)} ${runs(m.aedes)}`,
    },
    {
      measure: `hub + authentication${mode}: fixes/s committed`,
      value: `${fmt.rate(m.hub.perSecond)} ${runs(m.hub)}`,
    },
    {
      measure: `ratio hub / aedes, both with authentication${mode}`,
      value: fmt.ratio(ratio),
      goal: `≥ ${GOAL.toFixed(2)}`,
      ...(Number.isFinite(ratio) ? { verdict: ratio >= GOAL ? "PASS" : "MISS" } : {}),
    },
    {
      measure: "  ratio from CPU time per message (all processes)",
      value: fmt.ratio(m.cpuBoundRatio),
    },
    {
      measure: "  PUBACK p50 / p99: aedes; hub",
      value: `${fmt.ms(m.aedes.ackP50Ms)} / ${fmt.ms(m.aedes.ackP99Ms)}; ${fmt.ms(m.hub.ackP50Ms)} / ${fmt.ms(m.hub.ackP99Ms)}`,
    },
  ];
}

export const identity: Scenario = {
  name: "identity",
  title: "2b. Device authentication (and TLS): hub beside aedes with the same checks",
  async run(ctx): Promise<ScenarioOutcome> {
    const n = ctx.options.connections;
    const ids = Array.from({ length: n }, (_, v) => `${VEHICLES}${v}`);
    let pki: TestPki | null = null;
    let tlsUnavailable: string | null = null;
    if (hasBinary("openssl")) {
      pki = makeTestPki();
      const dir = pki.dir;
      ctx.afterScenario(async () => fs.rmSync(dir, { recursive: true, force: true }));
    } else {
      tlsUnavailable = "openssl is not installed (Debian package openssl): no test certificate";
    }

    const bare = await bareAccounts(ids);
    const broker = await startAedes({
      accounts: bare.accounts,
      ...(pki === null ? {} : { tls: { cert: pki.server.certPem, key: pki.server.keyPem } }),
    });
    ctx.afterScenario(() => broker.stop());
    const subscriber = await observe(broker, bare.observer);
    ctx.afterScenario(async () => {
      await subscriber.client.endAsync(true);
    });

    const hub: SecureHub = await startSecureHub(ctx, pki);
    ctx.afterScenario(() => hub.stop());
    const refusedBefore = await hub.refusals();

    const aedesTarget = (tls: boolean): Target => ({
      url: tls ? (broker.tlsUrl as string) : broker.url,
      ...(tls && pki !== null ? { ca: pki.ca.certPem } : {}),
      prefix: VEHICLES,
      credentials: bare.vehicles,
      pid: broker.pid as number,
      count: async () => subscriber.received(),
    });
    let hubRuns = 0;
    const hubTarget = async (tls: boolean): Promise<Target> => {
      const prefix = `bench-id${hubRuns++}-v`;
      return {
        url: tls ? (hub.tlsUrl as string) : hub.hub.mqttUrl,
        ...(tls && pki !== null ? { ca: pki.ca.certPem } : {}),
        prefix,
        credentials: await hub.register(ids.map((_, v) => `${prefix}${v}`)),
        pid: hub.hub.child.pid as number,
        count: () => committedFixes(hub.endpoint),
      };
    };

    const modes = pki === null ? [false] : [false, true];
    const runs = new Map<string, OneRun[]>();
    for (let run = 0; run < ctx.options.runs; run++) {
      for (const tls of modes) {
        for (const side of ["aedes", "hub"] as const) {
          const target = side === "aedes" ? aedesTarget(tls) : await hubTarget(tls);
          const key = `${side}${tls ? "+tls" : ""}`;
          runs.set(key, [...(runs.get(key) ?? []), await runOnce(ctx, target)]);
        }
      }
    }
    const refused = (await hub.refusals()) - refusedBefore;

    const side = (key: string) => summarise(runs.get(key) ?? []);
    const auth = compare(side("aedes"), side("hub"));
    const tls = pki === null ? null : compare(side("aedes+tls"), side("hub+tls"));
    const connected = [...runs.values()].flatMap((r) => r.map((x) => x.connected));

    const out: Row[] = [...sideRows("", auth)];
    if (tls !== null) out.push(...sideRows(" over TLS", tls));
    else out.push({ measure: "over TLS", value: `not available: ${tlsUnavailable}` });
    out.push({
      measure: "publishers logged in, each as its own vehicle",
      value: `${connected.every((c) => c === n) ? "all" : "NOT all"} ${n} in each of ${connected.length} runs; hub refusals ${fmt.int(refused)}`,
    });
    const base = ctx.results.get("baseline")?.figures.aedes as BaselineFigures | undefined;
    const emb = ctx.results.get("embedded")?.figures as HubThroughput | undefined;
    if (base !== undefined && emb !== undefined) {
      out.push({
        measure: "with authentication ÷ without (scenarios 1, 2): aedes / hub",
        value: `${fmt.ratio(auth.aedes.perSecond / base.messagesPerSecond)} / ${fmt.ratio(auth.hub.perSecond / emb.fixesPerSecond)}`,
      });
    }
    return {
      parameters: {
        connections: n,
        window: ctx.options.window,
        durationMs: ctx.options.durationMs,
        warmupMs: ctx.options.warmupMs,
        runs: ctx.options.runs,
        fences: ctx.fences().fences.length,
        authentication:
          "username = vehicle id, a password of its own each, scrypt (N=2^14, r=8, p=1) verified once per login; §3 rules on every publish and subscription",
        hub: "LOCUS_MQTT_ALLOW_ANONYMOUS=false; new vehicles registered over POST /api/v1/vehicles before each run; events to an `events` client account",
        tls: "publishers only, mqtts:// trusting a throwaway CA (EC P-256 server key); the subscribers stay on plain MQTT",
        order: "per run: aedes, hub, aedes over TLS, hub over TLS",
      },
      figures: {
        auth,
        tls: tls ?? { unavailable: tlsUnavailable },
        logins: { publishers: n, connectedPerRun: connected, hubRefusals: refused },
      },
      rows: out,
    };
  },
};
