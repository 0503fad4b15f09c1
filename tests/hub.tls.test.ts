// `npm start` with a certificate, as an operator runs it: the ready line announces the https URL,
// which answers a client that trusts the CA; a key that is not the certificate's stops the start
// with one line naming the setting.

import fs from "node:fs";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failedHubStart, type HubProcess, startHubProcess } from "./support/hub-process.ts";
import { makeTestPki, opensslAvailable, type TestPki } from "./support/tls.ts";

function health(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(`${url}/api/v1/health`, { ca }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

describe.skipIf(!opensslAvailable())("the hub with LOCUS_TLS_CERT and LOCUS_TLS_KEY", () => {
  let pki: TestPki;
  let hub: HubProcess | undefined;
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(async () => {
    await hub?.stop();
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("announces and serves https", async () => {
    hub = await startHubProcess({
      env: { LOCUS_TLS_CERT: pki.server.certFile, LOCUS_TLS_KEY: pki.server.keyFile },
    });
    expect(hub.output()).toMatch(/locus hub ready {2}http: https:\/\/127\.0\.0\.1:\d+ /);
    expect(hub.httpUrl).toMatch(/^https:/);
    expect(await health(hub.httpUrl, pki.ca.certPem)).toBe(200);
    await expect(health(hub.httpUrl, pki.otherCa.certPem)).rejects.toThrow(
      /unable to verify the first certificate/,
    );
    expect(await hub.stop()).toBe(0);
  });

  it("refuses to start with a key that is not the certificate's", async () => {
    const { code, out } = await failedHubStart({
      LOCUS_TLS_CERT: pki.server.certFile,
      LOCUS_TLS_KEY: pki.otherCa.keyFile,
    });
    expect(code).toBe(1);
    expect(out).toBe(
      `locus hub: LOCUS_TLS_KEY: ${pki.otherCa.keyFile} is not the private key of the certificate in ${pki.server.certFile}\n`,
    );
  });
});
