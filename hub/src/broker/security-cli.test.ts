// CONTRACT §3 "Who may do what" on the embedded broker as an independent client sees it: the
// Mosquitto command-line clients (mosquitto_pub, mosquitto_sub), and MQTT over TLS with a
// throwaway CA made here by openssl. Without those programs the tests are skipped with one loud
// line (under CI=true they fail instead).

import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { EVENTS_TOPIC } from "@locus/protocol";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../tests/support/binaries.ts";
import { freePort, tempDir } from "../../../tests/support/hub-process.ts";
import {
  credentials,
  openSecuredBroker,
  type SecuredBroker,
  type Who,
} from "./security-harness.ts";

const run = promisify(execFile);
const hasClients = requireBinary("mosquitto_pub", "mosquitto-clients");
const hasOpenssl = requireBinary("openssl", "openssl");

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

/** Runs a command line client; resolves with its exit code and output, never rejects. */
async function client(
  program: "mosquitto_pub" | "mosquitto_sub",
  args: string[],
): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(program, args, { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: `${e.stdout}${e.stderr}` };
  }
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
    const wrong = await client("mosquitto_pub", [
      ...loginArgs(b, "truck-1", "wrong"),
      "-t",
      topic,
      "-m",
      "online",
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/not authori[sz]ed/i);
    const right = await client("mosquitto_pub", [
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
    const anonymous = await client("mosquitto_pub", [...loginArgs(b, "anonymous"), ...args]);
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
    const sub = await client("mosquitto_sub", [
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
      client("mosquitto_pub", [...loginArgs(b, "truck-1"), "-q", "1", "-t", topic, "-m", m]);
    expect((await pub("locus/vehicles/truck-2/location", fix(1))).code).toBe(0);
    expect((await pub("locus/vehicles/truck-1/location", fix(2))).code).toBe(0);
    expect(await own.message).toBe(fix(2));
    expect(await b.refused("forbidden_publish")).toBe(1);
    // truck-2's own fix is the first message its topic carries: truck-1's never went out.
    const owner = await client("mosquitto_pub", [
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
      const forged = await client("mosquitto_pub", [
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
      client("mosquitto_pub", [...loginArgs(b, "truck-1"), "-q", "1", "-r", "-t", topic, "-m", m]);
    expect((await status("online")).code).toBe(0);
    expect((await status("hello")).code).toBe(0);
    expect(await b.refused("bad_status")).toBe(1);
    const late = subscribeOnce([...loginArgs(b, "map"), "-t", topic]);
    expect(await late.message).toBe("online");
  });
});

/** A throwaway CA and a server certificate it signed for 127.0.0.1, as PEM files in `dir`. */
async function makeCertificates(
  dir: string,
): Promise<{ ca: string; otherCa: string; cert: string; key: string }> {
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir, timeout: 60_000 });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const name of ["ca", "other-ca"]) {
    await openssl(
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=Locus test ${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  }
  await openssl(
    "req",
    ...ecKey,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  fs.writeFileSync(
    path.join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  const file = (name: string) => path.join(dir, name);
  return {
    ca: file("ca.pem"),
    otherCa: file("other-ca.pem"),
    cert: file("server.pem"),
    key: file("server.key"),
  };
}

describe.runIf(hasOpenssl)("MQTT over TLS", () => {
  let dir: string;
  let pem: Awaited<ReturnType<typeof makeCertificates>>;

  beforeAll(async () => {
    dir = tempDir("locus-tls-");
    pem = await makeCertificates(dir);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openTls(): Promise<SecuredBroker> {
    sut = await openSecuredBroker({
      allowAnonymous: false,
      tls: { cert: fs.readFileSync(pem.cert), key: fs.readFileSync(pem.key), port: 0 },
    });
    return sut;
  }

  it("lets a client that trusts the CA in, with the same rights as without TLS", async () => {
    const b = await openTls();
    expect(b.broker.tlsUrl).toBe(`mqtts://127.0.0.1:${b.broker.tlsPort}`);
    const ca = fs.readFileSync(pem.ca);
    const truck = await mqtt.connectAsync(b.broker.tlsUrl ?? "", {
      ...credentials("truck-1"),
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      await truck.publishAsync("locus/vehicles/truck-1/status", "online", { qos: 1, retain: true });
      await truck.publishAsync("locus/vehicles/truck-2/status", "online", { qos: 1, retain: true });
      expect(await b.refused("forbidden_publish")).toBe(1);
      expect(b.broker.retained.messages).toBe(1);
    } finally {
      await truck.endAsync(true);
    }
    const wrong = mqtt.connectAsync(b.broker.tlsUrl ?? "", {
      username: "truck-1",
      password: "wrong",
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await expect(wrong).rejects.toMatchObject({ code: 5 });
  });

  it("is refused by a client that trusts another CA", async () => {
    const b = await openTls();
    const attempt = mqtt.connectAsync(b.broker.tlsUrl ?? "", {
      ...credentials("truck-1"),
      ca: fs.readFileSync(pem.otherCa),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    await expect(attempt).rejects.toThrow(/certificate/i);
  });

  it.runIf(hasClients)("works with mosquitto_pub given the CA, and not given another", async () => {
    const b = await openTls();
    const args = (cafile: string) => [
      "-h",
      "127.0.0.1",
      "-p",
      String(b.broker.tlsPort),
      "--cafile",
      cafile,
      "-u",
      "truck-1",
      "-P",
      "pw-truck-1",
      "-q",
      "1",
      "-t",
      "locus/vehicles/truck-1/status",
      "-m",
      "online",
    ];
    expect(await client("mosquitto_pub", args(pem.ca))).toEqual({ code: 0, out: "" });
    const other = await client("mosquitto_pub", args(pem.otherCa));
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/certificate|tls|ssl/i);
  });
});

describe.runIf(hasOpenssl)("MQTT over TLS: a taken port", () => {
  it("rejects with the TLS listener named, and leaves the plain port free again", async () => {
    const dir = tempDir("locus-tls-taken-");
    try {
      const pem = await makeCertificates(dir);
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
      const taken = (squatter.address() as net.AddressInfo).port;
      const plain = await freePort();
      const attempt = openSecuredBroker({
        allowAnonymous: true,
        port: plain,
        tls: { cert: fs.readFileSync(pem.cert), key: fs.readFileSync(pem.key), port: taken },
      });
      await expect(attempt).rejects.toMatchObject({
        listener: "mqtts",
        port: taken,
        code: "EADDRINUSE",
      });
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      // The plain listener opened first was closed again: the port can be bound.
      const again = net.createServer();
      await new Promise<void>((resolve, reject) => {
        again.once("error", reject);
        again.listen(plain, "127.0.0.1", resolve);
      });
      await new Promise<void>((resolve) => again.close(() => resolve()));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
