// The agent's command line against a real Mosquitto with an MQTT-over-TLS listener and a password
// file: --ca and credentials from --password-file or the environment deliver; the wrong CA, no
// CA, or a wrong password are refused with one clear line, and the fixes stay in the buffer. The
// simulator's agents connect the same way.

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBufferStats } from "../agent/src/buffer/sqlite.ts";
import { startAgent } from "./support/agent-process.ts";
import { hasBinary } from "./support/binaries.ts";
import { type Mosquitto, mosquittoBinary, startMosquitto } from "./support/broker.ts";
import { recordFixes } from "./support/broker-recorder.ts";
import { freePort, tempDir, waitFor } from "./support/hub-process.ts";
import { makeTestPki, opensslAvailable, type TestPki } from "./support/tls.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const T0 = Date.parse("2026-11-24T08:00:00.000Z");
const line = (i: number) =>
  `${JSON.stringify({ ts: new Date(T0 + i * 1000).toISOString(), latitude: 50, longitude: 10 + i / 1e4 })}\n`;
const USER = "truck-tls";
const PASSWORD = "correct horse, battery staple";

function mosquittoPasswdAvailable(): boolean {
  if (hasBinary("mosquitto_passwd")) return true;
  const message = "mosquitto_passwd not found: install the Debian package mosquitto";
  if (process.env.CI === "true") throw new Error(message);
  console.warn(`SKIPPING: ${message}`);
  return false;
}

const ready = () => mosquittoBinary() !== null && opensslAvailable() && mosquittoPasswdAvailable();

describe.skipIf(!ready())("agent over MQTT with TLS and credentials", () => {
  let pki: TestPki;
  let broker: Mosquitto;
  let tlsPort: number;
  let passwordFile: string;
  let n = 0;
  const vehicle = () => `tls-${++n}`;
  const tlsUrl = (host = "127.0.0.1") => `mqtts://${host}:${tlsPort}`;

  beforeAll(async () => {
    pki = makeTestPki();
    const passwd = path.join(pki.dir, "passwd");
    execFileSync("mosquitto_passwd", ["-c", "-b", passwd, USER, PASSWORD], { stdio: "ignore" });
    fs.chmodSync(passwd, 0o644);
    passwordFile = path.join(tempDir(), "password");
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    tlsPort = await freePort();
    // The plain listener (anonymous, for the recorder) comes first; the TLS one checks the same
    // password file, and a client that gives a user name must give its password.
    broker = await startMosquitto({
      settings: [
        "allow_anonymous true",
        `password_file ${passwd}`,
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        `listener ${tlsPort} 127.0.0.1`,
        `certfile ${pki.server.certFile}`,
        `keyfile ${pki.server.keyFile}`,
      ],
    });
  });
  afterAll(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("delivers with --ca and --password-file: every fix acknowledged, the buffer empty", async () => {
    const id = vehicle();
    const rec = await recordFixes(broker.url, id);
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(
      [
        ...["--vehicle-id", id, "--broker", tlsUrl(), "--buffer", buffer],
        ...["--ca", pki.ca.certFile, "--username", USER, "--password-file", passwordFile],
      ],
      {},
    );
    for (let i = 0; i < 49; i++) agent.child.stdin?.write(line(i));
    agent.child.stdin?.end(line(49));
    expect(await agent.exited, agent.stderr()).toBe(0);
    await rec.waitForAll(50);
    expect(rec.firstSeqs()).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(readBufferStats(buffer)).toMatchObject({ depth: 0, nextSeq: 50 });
    expect(agent.stderr()).toContain(`(trusting the CA in ${pki.ca.certFile}) as ${USER}`);
    expect(agent.stderr()).not.toContain(PASSWORD);
    await rec.close();
  });

  it("takes the credentials from the environment and checks the certificate by name", async () => {
    const id = vehicle();
    const rec = await recordFixes(broker.url, id);
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(
      [
        ...["--vehicle-id", id, "--broker", tlsUrl("localhost"), "--buffer", buffer],
        ...["--ca", pki.ca.certFile],
      ],
      { LOCUS_MQTT_USERNAME: USER, LOCUS_MQTT_PASSWORD: PASSWORD },
    );
    agent.child.stdin?.end(line(0) + line(1));
    expect(await agent.exited, agent.stderr()).toBe(0);
    await rec.waitForAll(2);
    expect(readBufferStats(buffer).depth).toBe(0);
    await rec.close();
  });

  // Without --ca the agent trusts Node's list, the CAs NODE_EXTRA_CA_CERTS adds, and the
  // system's store (SSL_CERT_FILE names it here, as OpenSSL reads it).
  it.each([
    { name: "a CA added to Node's list with NODE_EXTRA_CA_CERTS", variable: "NODE_EXTRA_CA_CERTS" },
    { name: "a CA in the system's store", variable: "SSL_CERT_FILE" },
  ])("trusts $name, without --ca", async ({ variable }) => {
    const id = vehicle();
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(
      ["--vehicle-id", id, "--broker", tlsUrl(), "--buffer", buffer, "--username", USER],
      { LOCUS_MQTT_PASSWORD: PASSWORD, [variable]: pki.ca.certFile },
    );
    agent.child.stdin?.end(line(0));
    expect(await agent.exited, agent.stderr()).toBe(0);
    expect(readBufferStats(buffer)).toMatchObject({ depth: 0, lastAck: { seq: 0 } });
  });

  // Each case: the agent is refused, says why in one line, keeps the fixes and stops cleanly.
  it.each([
    {
      name: "an unrelated CA",
      args: () => [
        "--ca",
        pki.otherCa.certFile,
        "--username",
        USER,
        "--password-file",
        passwordFile,
      ],
      says: "the broker's TLS certificate is not signed by a CA in --ca",
    },
    {
      name: "no CA (Node's and the system's)",
      args: () => ["--username", USER, "--password-file", passwordFile],
      says: "is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE): give its CA with --ca FILE",
    },
    {
      name: "a wrong password",
      args: () => ["--ca", pki.ca.certFile, "--username", USER, "--password", "wrong"],
      says: `the broker refused the credentials of user "${USER}" (Connection refused: Not authorized)`,
    },
  ])("is refused with $name and keeps its fixes", async ({ args, says }) => {
    const id = vehicle();
    const rec = await recordFixes(broker.url, id);
    const buffer = path.join(tempDir(), "agent.db");
    const agent = startAgent(
      ["--vehicle-id", id, "--broker", tlsUrl(), "--buffer", buffer, ...args()],
      {},
    );
    for (let i = 0; i < 5; i++) agent.child.stdin?.write(line(i));
    await waitFor(
      () => (agent.stderr().includes(says) ? true : undefined),
      30_000,
      () => `"${says}" in:\n${agent.stderr()}`,
    );
    await waitFor(
      () => (readBufferStats(buffer).nextSeq === 5 ? true : undefined),
      30_000,
      "5 fixes",
    );
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    const warning = agent
      .stderr()
      .split("\n")
      .find((l) => l.includes(says));
    expect(warning).toMatch(
      new RegExp(
        `^locus-agent: warning: cannot connect to mqtts://127\\.0\\.0\\.1:${tlsPort}: .*; \\d fixes stay buffered, retrying$`,
      ),
    );
    expect(agent.stderr()).toContain(`stopped; 5 unacknowledged fixes stay in ${buffer}`);
    expect(readBufferStats(buffer)).toMatchObject({ depth: 5, lastAck: null });
    expect(rec.messages).toHaveLength(0);
    await rec.close();
  });

  it("runs the simulator's vehicles over TLS with --ca and --password-file", async () => {
    const child = spawn(
      process.execPath,
      [
        ...["--import", "tsx", "simulator/src/main.ts", "--vehicles", "2", "--interval", "100ms"],
        ...["--duration", "1500ms", "--id-prefix", "tlsim-", "--seed", "1", "--quiet"],
        ...["--broker", tlsUrl(), "--ca", pki.ca.certFile],
        ...["--username", USER, "--password-file", passwordFile],
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
    });
    child.stderr?.on("data", (d) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code, out).toBe(0);
    const fixes =
      /fixes\s+(\d+) produced, \d+ sent \(\d+ resent\), (\d+) acknowledged, (\d+) still buffered/.exec(
        out,
      );
    expect(fixes, out).not.toBeNull();
    const [, produced, acked, buffered] = (fixes as RegExpExecArray).map(Number);
    expect(produced).toBeGreaterThan(0);
    expect(acked).toBe(produced);
    expect(buffered).toBe(0);
    expect(out).toMatch(/vehicles\s+2 \(2 connections made\)/);
  });
});
