// LOCUS_TLS_CERT / LOCUS_TLS_KEY: the checks at start (missing, unreadable, not PEM, a key that is
// not the certificate's) and a real hub serving its API over HTTPS with a throwaway CA.

import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, tempDir } from "../../tests/support/hub-process.ts";
import { makeTestPki, opensslAvailable, type TestPki } from "../../tests/support/tls.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { type Hub, startHub } from "./hub.ts";

/** GET `url` trusting only `ca`; resolves to the status, or rejects with the TLS error. */
function get(url: string, ca: string | undefined, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      { ...(ca ? { ca } : {}), headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
  });
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("loadConfig accepted the settings");
}

describe.skipIf(!opensslAvailable())("TLS settings", () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => {
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("reads a matching certificate and key, and defaults the MQTT TLS port to 8883", () => {
    const config = loadConfig({
      LOCUS_TLS_CERT: pki.server.certFile,
      LOCUS_TLS_KEY: pki.server.keyFile,
    });
    expect(config.tls).toEqual({ cert: pki.server.certPem, key: pki.server.keyPem });
    expect(config.mqtt.tlsPort).toBe(8883);
    expect(loadConfig({}).tls).toBeNull();
    expect(loadConfig({ LOCUS_MQTT_TLS_PORT: "8884" }).mqtt.tlsPort).toBe(8884);
  });

  it("accepts a certificate followed by its chain", () => {
    const chain = path.join(pki.dir, "fullchain.pem");
    fs.writeFileSync(chain, pki.server.certPem + pki.ca.certPem);
    const config = loadConfig({ LOCUS_TLS_CERT: chain, LOCUS_TLS_KEY: pki.server.keyFile });
    expect(config.tls?.cert).toContain(pki.ca.certPem.trim());
  });

  it("names the missing half when only one is set", () => {
    const noKey = configError({ LOCUS_TLS_CERT: pki.server.certFile });
    expect(noKey.setting).toBe("LOCUS_TLS_KEY");
    expect(noKey.message).toBe("LOCUS_TLS_KEY: not set, but LOCUS_TLS_CERT is (TLS needs both)");
    const noCert = configError({ LOCUS_TLS_KEY: pki.server.keyFile });
    expect(noCert.setting).toBe("LOCUS_TLS_CERT");
  });

  it("names the setting whose file is missing or is not PEM", () => {
    const missing = path.join(pki.dir, "no-such.pem");
    const e1 = configError({ LOCUS_TLS_CERT: missing, LOCUS_TLS_KEY: pki.server.keyFile });
    expect(e1.message).toBe(`LOCUS_TLS_CERT: cannot read ${missing} (ENOENT)`);
    const e2 = configError({ LOCUS_TLS_CERT: pki.server.certFile, LOCUS_TLS_KEY: missing });
    expect(e2.setting).toBe("LOCUS_TLS_KEY");

    // Each file given for the other.
    const swapped = configError({
      LOCUS_TLS_CERT: pki.server.keyFile,
      LOCUS_TLS_KEY: pki.server.certFile,
    });
    expect(swapped.setting).toBe("LOCUS_TLS_CERT");
    expect(swapped.message).toContain("holds no PEM certificate");
    const keyIsCert = configError({
      LOCUS_TLS_CERT: pki.server.certFile,
      LOCUS_TLS_KEY: pki.server.certFile,
    });
    expect(keyIsCert.setting).toBe("LOCUS_TLS_KEY");
    expect(keyIsCert.message).toContain("holds no unencrypted PEM private key");

    const garbled = path.join(pki.dir, "garbled.pem");
    fs.writeFileSync(
      garbled,
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    );
    const bad = configError({ LOCUS_TLS_CERT: garbled, LOCUS_TLS_KEY: pki.server.keyFile });
    expect(bad.setting).toBe("LOCUS_TLS_CERT");
  });

  it("refuses a key that is not the certificate's", () => {
    const err = configError({
      LOCUS_TLS_CERT: pki.server.certFile,
      LOCUS_TLS_KEY: pki.otherCa.keyFile,
    });
    expect(err.setting).toBe("LOCUS_TLS_KEY");
    expect(err.message).toBe(
      `LOCUS_TLS_KEY: ${pki.otherCa.keyFile} is not the private key of the certificate in ${pki.server.certFile}`,
    );
  });

  it("refuses the TLS port when it is the plain MQTT port", () => {
    const err = configError({
      LOCUS_TLS_CERT: pki.server.certFile,
      LOCUS_TLS_KEY: pki.server.keyFile,
      LOCUS_MQTT_PORT: "1999",
      LOCUS_MQTT_TLS_PORT: "1999",
    });
    expect(err.setting).toBe("LOCUS_MQTT_TLS_PORT");
  });
});

describe.skipIf(!opensslAvailable())("the hub over HTTPS", () => {
  let pki: TestPki;
  let hub: Hub;
  const token = "tls-test-token-0123456789";

  beforeAll(async () => {
    pki = makeTestPki();
    hub = await startHub(
      loadConfig({
        LOCUS_DATA_DIR: tempDir(),
        LOCUS_HTTP_PORT: String(await freePort()),
        LOCUS_MQTT_PORT: String(await freePort()),
        LOCUS_MQTT_TLS_PORT: String(await freePort()),
        LOCUS_API_TOKEN: token,
        LOCUS_TLS_CERT: pki.server.certFile,
        LOCUS_TLS_KEY: pki.server.keyFile,
        LOCUS_LOG_LEVEL: "silent",
      }),
    );
  });
  afterAll(async () => {
    await hub?.close();
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("announces an https URL and answers a client that trusts the CA", async () => {
    expect(hub.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await get(`${hub.httpUrl}/api/v1/health`, pki.ca.certPem)).toBe(200);
    expect(await get(`${hub.httpUrl}/api/v1/geofences`, pki.ca.certPem, token)).toBe(200);
    // By name too: the certificate is for localhost as well.
    const byName = hub.httpUrl.replace("127.0.0.1", "localhost");
    expect(await get(`${byName}/api/v1/health`, pki.ca.certPem)).toBe(200);
  });

  it("is refused by a client that does not trust the CA", async () => {
    // Node's own CA list, then an unrelated CA: both reject the certificate.
    await expect(get(`${hub.httpUrl}/api/v1/health`, undefined)).rejects.toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
    await expect(get(`${hub.httpUrl}/api/v1/health`, pki.otherCa.certPem)).rejects.toMatchObject({
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  it("does not answer plain HTTP on its port", async () => {
    const plain = hub.httpUrl.replace("https:", "http:");
    const res = await fetch(`${plain}/api/v1/health`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(res).not.toBe(200);
  });
});
