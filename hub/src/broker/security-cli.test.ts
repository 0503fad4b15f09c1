// CONTRACT §3 "Who may do what" on the embedded broker as an independent client sees it: the
// Mosquitto command-line clients (mosquitto_pub, mosquitto_sub). Without them the tests are
// skipped with one loud line (under CI=true they fail instead).

import { spawn } from "node:child_process";
import { EVENTS_TOPIC } from "@locus/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { requireBinary } from "../../../tests/support/binaries.ts";
import {
  credentials,
  openSecuredBroker,
  runClient,
  type SecuredBroker,
  type Who,
} from "./security-harness.ts";

const hasClients = requireBinary("mosquitto_pub", "mosquitto-clients");

let sut: SecuredBroker | undefined;

afterEach(async () => {
  await sut?.close();
  sut = undefined;
});

async function open(allowAnonymous = true): Promise<SecuredBroker> {
  sut = await openSecuredBroker({ allowAnonymous });
  return sut;
}

/** The mosquitto_pub / mosquitto_sub arguments that log in as `who` on `b` (MQTT 3.1.1). */
function loginArgs(b: SecuredBroker, who: Who, password?: string): string[] {
  const args = ["-h", "127.0.0.1", "-p", String(b.broker.port), "-V", "mqttv311"];
  const { username, password: own } = credentials(who);
  if (username !== undefined) args.push("-u", username, "-P", password ?? own ?? "");
  return args;
}

/**
 * mosquitto_sub for one message, reporting its SUBACK (-d) so the caller waits for the
 * subscription instead of guessing how long it takes (stdbuf comes with coreutils).
 */
function subscribeOnce(args: string[]): { subscribed: Promise<void>; message: Promise<string> } {
  // Line-buffered, or the SUBACK line waits in the pipe's buffer until the program ends.
  const child = spawn("stdbuf", ["-oL", "mosquitto_sub", ...args, "-C", "1", "-d", "-q", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let onSubscribed = () => {};
  const subscribed = new Promise<void>((resolve) => {
    onSubscribed = resolve;
  });
  const collect = (d: Buffer) => {
    out += d;
    if (/Subscribed \(mid: \d+\): 1/.test(out)) onSubscribed();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const message = new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => {
      clearTimeout(timer);
      // -d prints protocol lines starting with "Client"; the message is the one that does not.
      const payload = out.split("\n").find((l) => l !== "" && !/^(Client|Subscribed)/.test(l));
      if (code === 0 && payload !== undefined) resolve(payload);
      else reject(new Error(`mosquitto_sub ended with ${code}:\n${out}`));
    });
  });
  message.catch(() => {});
  return { subscribed: Promise.race([subscribed, message.then(() => {})]), message };
}

describe.runIf(hasClients)("mosquitto_pub / mosquitto_sub against the embedded broker", () => {
  it("gets CONNACK not authorised for bad credentials, and in with good ones", async () => {
    const b = await open();
    const topic = "locus/vehicles/truck-1/status";
    const wrong = await runClient("mosquitto_pub", [
      ...loginArgs(b, "truck-1", "wrong"),
      "-t",
      topic,
      "-m",
      "online",
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/not authori[sz]ed/i);
    const right = await runClient("mosquitto_pub", [
      ...loginArgs(b, "truck-1"),
      "-t",
      topic,
      "-m",
      "online",
    ]);
    expect(right).toEqual({ code: 0, out: "" });
    expect(await b.refused("bad_credentials")).toBe(1);
  });

  it("refuses clients without credentials where anonymous clients are not allowed", async () => {
    const b = await open(false);
    const args = ["-t", "locus/vehicles/truck-9/location", "-m", "{}"];
    const anonymous = await runClient("mosquitto_pub", [...loginArgs(b, "anonymous"), ...args]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.out).toMatch(/not authori[sz]ed/i);
    expect(await b.refused("anonymous_not_allowed")).toBe(1);
  });

  const SUBSCRIBE_ROWS: [Who, string, number][] = [
    ["truck-1", "locus/vehicles/truck-1/#", 1],
    ["truck-1", "owntracks/truck-1/#", 1],
    ["truck-1", "locus/vehicles/truck-2/#", 128],
    ["truck-1", "locus/vehicles/+/#", 128],
    ["truck-1", "#", 128],
    ["truck-1", "$SYS/#", 128],
    ["dispatch", EVENTS_TOPIC, 1],
    ["dispatch", "locus/vehicles/+/location", 128],
    ["map", "locus/vehicles/+/location", 1],
    ["map", "locus/vehicles/+/status", 1],
    ["map", "locus/#", 128],
    ["anonymous", EVENTS_TOPIC, 1],
    ["anonymous", "locus/vehicles/+/status", 128],
  ];

  it.each(SUBSCRIBE_ROWS)("SUBACK to %s for %s: %i", async (who, filter, code) => {
    const b = await open();
    const sub = await runClient("mosquitto_sub", [
      ...loginArgs(b, who),
      "-t",
      filter,
      "-q",
      "1",
      "-E",
      "-d",
    ]);
    expect(sub.out).toContain(`Subscribed (mid: 1): ${code}`);
  });

  it("carries a vehicle's own fix to an observer, and drops its fix for another vehicle", async () => {
    const b = await open();
    const own = subscribeOnce([...loginArgs(b, "map"), "-t", "locus/vehicles/truck-1/location"]);
    const other = subscribeOnce([...loginArgs(b, "map"), "-t", "locus/vehicles/truck-2/location"]);
    await Promise.all([own.subscribed, other.subscribed]);
    const fix = (seq: number) =>
      JSON.stringify({ latitude: 34.05, longitude: -118.24, seq, ts: seq });
    const pub = (topic: string, m: string) =>
      runClient("mosquitto_pub", [...loginArgs(b, "truck-1"), "-q", "1", "-t", topic, "-m", m]);
    expect((await pub("locus/vehicles/truck-2/location", fix(1))).code).toBe(0);
    expect((await pub("locus/vehicles/truck-1/location", fix(2))).code).toBe(0);
    expect(await own.message).toBe(fix(2));
    expect(await b.refused("forbidden_publish")).toBe(1);
    // truck-2's own fix is the first message its topic carries: truck-1's never went out.
    const owner = await runClient("mosquitto_pub", [
      ...loginArgs(b, "truck-2"),
      "-q",
      "1",
      "-t",
      "locus/vehicles/truck-2/location",
      "-m",
      fix(3),
    ]);
    expect(owner.code).toBe(0);
    expect(await other.message).toBe(fix(3));
  });

  it("never lets a client's message on the events topic reach an events subscriber", async () => {
    const b = await open();
    const events = subscribeOnce([...loginArgs(b, "dispatch"), "-t", EVENTS_TOPIC]);
    await events.subscribed;
    for (const who of ["truck-1", "dispatch", "map", "anonymous"] as const) {
      const forged = await runClient("mosquitto_pub", [
        ...loginArgs(b, who),
        "-q",
        "1",
        "-t",
        EVENTS_TOPIC,
        "-m",
        `{"forged_by":"${who}"}`,
      ]);
      expect(forged.code).toBe(0);
    }
    expect(await b.refused("forbidden_publish")).toBe(4);
    await b.broker.publish(EVENTS_TOPIC, '{"from":"hub"}');
    expect(await events.message).toBe('{"from":"hub"}');
  });

  it("refuses a status that is not online/offline and keeps the retained one", async () => {
    const b = await open();
    const topic = "locus/vehicles/truck-1/status";
    const status = (m: string) =>
      runClient("mosquitto_pub", [
        ...loginArgs(b, "truck-1"),
        "-q",
        "1",
        "-r",
        "-t",
        topic,
        "-m",
        m,
      ]);
    expect((await status("online")).code).toBe(0);
    expect((await status("hello")).code).toBe(0);
    expect(await b.refused("bad_status")).toBe(1);
    const late = subscribeOnce([...loginArgs(b, "map"), "-t", topic]);
    expect(await late.message).toBe("online");
  });
});
