// URL checks: which addresses a webhook may reach, in URLs as stored and in names as resolved.

import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { checkWebhookUrl, guardedLookup, refusedAddress } from "./url-check.ts";

describe("refusedAddress", () => {
  it.each([
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "64:ff9b::10.0.0.1",
    "0:0:0:0:0:ffff:c0a8:0101",
  ])("refuses %s", (address) => {
    expect(refusedAddress(address)).toMatch(/non-public|carries/);
  });

  it.each([
    "1.1.1.1",
    "8.8.8.8",
    "172.32.0.1",
    "100.128.0.1",
    "169.255.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
  ])("accepts %s", (address) => {
    expect(refusedAddress(address)).toBeNull();
  });
});

describe("checkWebhookUrl", () => {
  it.each([
    ["ftp://example.com/x", /http:\/\/ or https:\/\//],
    ["not a url", /absolute URL/],
    ["https://user:pw@example.com/x", /credentials/],
    ["https://example.com/x#frag", /fragment/],
    ["http://127.0.0.1:8080/hook", /LOCUS_WEBHOOK_ALLOW_PRIVATE/],
    ["http://[::1]/hook", /non-public/],
    ["http://[::ffff:127.0.0.1]/hook", /carries/],
    ["http://0x7f000001/hook", /non-public/],
    ["http://2130706433/hook", /non-public/],
    ["http://localhost:3000/", /this machine/],
    ["http://api.localhost/", /this machine/],
    [`https://example.com/${"a".repeat(2100)}`, /longer than 2048/],
  ])("refuses %s", (url, problem) => {
    const checked = checkWebhookUrl(url, false);
    expect("problem" in checked && checked.problem).toMatch(problem);
  });

  it("accepts public URLs, and private ones when allowed", () => {
    expect(checkWebhookUrl("https://hooks.example.com/locus?k=1", false)).toHaveProperty("url");
    expect(checkWebhookUrl("http://8.8.8.8:8080/x", false)).toHaveProperty("url");
    expect(checkWebhookUrl("http://127.0.0.1:8080/hook", true)).toHaveProperty("url");
    // Form is still checked when private addresses are allowed.
    expect(checkWebhookUrl("ftp://127.0.0.1/", true)).toHaveProperty("problem");
  });
});

describe("guardedLookup", () => {
  /** Runs the lookup as net.connect does, with or without `all`. */
  function lookup(
    answers: Record<string, { address: string; family: number }[]>,
    hostname: string,
    all: boolean,
  ): Promise<{ err: Error | null; result: string | LookupAddress[] }> {
    const fn = guardedLookup(async (name) => answers[name] ?? []);
    return new Promise((resolve) => {
      fn(hostname, { all }, (err, result) => resolve({ err, result: result as string }));
    });
  }

  it("refuses a name that resolves only to loopback or private addresses", async () => {
    const answers = {
      "rebind.example": [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 },
      ],
      "mapped.example": [{ address: "::ffff:192.168.0.1", family: 6 }],
    };
    for (const name of Object.keys(answers)) {
      for (const all of [true, false]) {
        const { err } = await lookup(answers, name, all);
        expect(err?.message).toMatch(/resolves to no public address/);
        expect((err as NodeJS.ErrnoException).code).toBe("ELOCUSREFUSED");
      }
    }
  });

  it("hands on only the public addresses of a name that also has private ones", async () => {
    const answers = {
      "mixed.example": [
        { address: "10.0.0.5", family: 4 },
        { address: "93.184.216.34", family: 4 },
      ],
    };
    expect(await lookup(answers, "mixed.example", true)).toEqual({
      err: null,
      result: [{ address: "93.184.216.34", family: 4 }],
    });
    expect((await lookup(answers, "mixed.example", false)).result).toBe("93.184.216.34");
  });

  it("refuses the real resolver's localhost", async () => {
    const fn = guardedLookup();
    const err = await new Promise<Error | null>((resolve) =>
      fn("localhost", { all: true }, (e) => resolve(e)),
    );
    expect(err?.message).toMatch(/localhost resolves to no public address/);
  });
});
