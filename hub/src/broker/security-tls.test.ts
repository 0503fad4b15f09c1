// MQTT over TLS on the embedded broker, with a throwaway CA and server certificate made here by
// openssl: a client that trusts the CA gets in with the same rights, one that trusts another does
// not. Without openssl the tests are skipped with one loud line (under CI=true they fail instead).

import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../tests/support/binaries.ts";
import { freePort, tempDir } from "../../../tests/support/hub-process.ts";
import {
  credentials,
  openSecuredBroker,
  runClient,
  type SecuredBroker,
} from "./security-harness.ts";

const run = promisify(execFile);
const hasOpenssl = requireBinary("openssl", "openssl");
const hasClients = requireBinary("mosquitto_pub", "mosquitto-clients");

let sut: SecuredBroker | undefined;

afterEach(async () => {
  await sut?.close();
  sut = undefined;
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
    expect(await runClient("mosquitto_pub", args(pem.ca))).toEqual({ code: 0, out: "" });
    const other = await runClient("mosquitto_pub", args(pem.otherCa));
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
