import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gpsdFixes, parseGpsdSpec, tpvToFix, WATCH_COMMAND } from "./gpsd.ts";

const TPV = {
  class: "TPV",
  device: "/dev/ttyUSB0",
  mode: 3,
  time: "2026-11-24T20:00:35.000Z",
  ept: 0.005,
  lat: 34.04838,
  lon: -118.2566,
  altHAE: 58.3,
  altMSL: 92.5,
  alt: 92.5,
  track: 12.5,
  speed: 12,
  eph: 19,
  epx: 9,
  epy: 12,
};

describe("tpvToFix", () => {
  it("reads a 3D TPV", () => {
    expect(tpvToFix(TPV)).toEqual({
      latitude: 34.04838,
      longitude: -118.2566,
      ts: Date.parse("2026-11-24T20:00:35Z"),
      speed: 12,
      heading: 12.5,
      altitude: 92.5,
      accuracy: 19,
    });
  });

  it.each([
    ["a 2D fix has no altitude", { ...TPV, mode: 2 }, { altitude: undefined }],
    [
      "alt when altMSL is missing (gpsd < 3.20)",
      { ...TPV, altMSL: undefined, alt: 80 },
      { altitude: 80 },
    ],
    ["epx/epy when eph is missing", { ...TPV, eph: undefined }, { accuracy: 15 }],
    ["no time: no ts", { ...TPV, time: undefined }, { ts: undefined }],
  ])("%s", (_name, report, want) => {
    const fix = tpvToFix(report);
    expect(typeof fix).toBe("object");
    expect(fix).toMatchObject(
      Object.fromEntries(Object.entries(want).filter(([, v]) => v !== undefined)),
    );
    for (const [k, v] of Object.entries(want))
      if (v === undefined) expect(fix).not.toHaveProperty(k);
  });

  it.each([
    ["SKY", { class: "SKY", satellites: [] }, null],
    ["VERSION", { class: "VERSION", release: "3.22" }, null],
    ["mode 1", { ...TPV, mode: 1 }, "gpsd TPV without a fix (mode < 2)"],
    ["no mode", { ...TPV, mode: undefined }, "gpsd TPV without a fix (mode < 2)"],
    ["lat missing", { ...TPV, lat: undefined }, "gpsd TPV with a bad lat"],
    ["lon beyond 180", { ...TPV, lon: 181 }, "gpsd TPV with a bad lon"],
    ["bad time", { ...TPV, time: "yesterday" }, "gpsd TPV with a bad time"],
    ["not an object", 42, "gpsd report is not an object"],
  ])("skips %s", (_name, report, want) => {
    expect(tpvToFix(report)).toBe(want);
  });
});

describe("parseGpsdSpec", () => {
  it.each([
    ["gpsd://127.0.0.1:2947", { host: "127.0.0.1", port: 2947 }],
    ["gpsd://localhost", { host: "localhost", port: 2947 }],
    ["gpsd://[::1]:3000", { host: "::1", port: 3000 }],
    ["gpsd://gps.local:12/", { host: "gps.local", port: 12 }],
  ])("reads %s", (spec, want) => {
    expect(parseGpsdSpec(spec)).toEqual(want);
  });

  it.each(["gpsd:", "gpsd://", "gpsd://host:99999", "gpsd://host:2947/x", "gpsd://u@host:1"])(
    "refuses %s",
    (spec) => {
      expect(() => parseGpsdSpec(spec)).toThrow(/bad gpsd source/);
    },
  );
});

describe("gpsdFixes against a fake gpsd", () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  // Each connection gets the next script: lines to send after WATCH, then the socket is closed.
  async function fakeGpsd(scripts: string[][]) {
    const commands: string[] = [];
    let n = 0;
    const server = net.createServer((socket) => {
      const script = scripts[n++] ?? [];
      socket.once("data", (d) => {
        commands.push(d.toString());
        socket.end(`${script.join("\n")}\n`);
      });
      socket.on("error", () => {});
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address() as net.AddressInfo;
    return { port: address.port, commands, connections: () => n };
  }

  const tpv = (second: number, extra: object = {}) =>
    JSON.stringify({
      ...TPV,
      time: `2026-11-24T20:00:${String(second).padStart(2, "0")}.000Z`,
      ...extra,
    });

  it("watches, skips other reports and repeats of an epoch, and reconnects when gpsd goes away", async () => {
    const gpsd = await fakeGpsd([
      ['{"class":"VERSION","release":"3.22"}', tpv(1), tpv(1, { altMSL: 93 }), "garbage", tpv(2)],
      [tpv(3, { mode: 1 }), tpv(4)],
    ]);
    const controller = new AbortController();
    const invalid: string[] = [];
    const seen: number[] = [];
    for await (const fix of gpsdFixes(
      { host: "127.0.0.1", port: gpsd.port },
      { signal: controller.signal, onInvalid: (r) => invalid.push(r), minRetryMs: 10 },
    )) {
      seen.push(new Date(fix.ts ?? 0).getUTCSeconds());
      if (seen.length === 3) controller.abort();
    }
    expect(seen).toEqual([1, 2, 4]);
    expect(gpsd.commands).toEqual([WATCH_COMMAND, WATCH_COMMAND]);
    expect(invalid).toEqual([
      "gpsd sent a line that is not JSON",
      "gpsd TPV without a fix (mode < 2)",
    ]);
  });

  it("keeps retrying while gpsd is down, says so once, and stops on abort", async () => {
    const gpsd = await fakeGpsd([]);
    const port = gpsd.port;
    await new Promise((r) => servers.pop()?.close(r)); // nothing listens there now
    const controller = new AbortController();
    const invalid: string[] = [];
    const attempts = vi.spyOn(net, "connect");
    const iteration = (async () => {
      for await (const _ of gpsdFixes(
        { host: "127.0.0.1", port },
        {
          signal: controller.signal,
          onInvalid: (r) => invalid.push(r),
          minRetryMs: 5,
          maxRetryMs: 20,
        },
      )) {
        throw new Error("no fix expected");
      }
    })();
    // Several refused attempts, told once.
    await vi.waitFor(() => expect(attempts.mock.calls.length).toBeGreaterThanOrEqual(5), {
      timeout: 20_000,
      interval: 5,
    });
    controller.abort();
    await expect(iteration).resolves.toBeUndefined();
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatch(
      /^gpsd at 127\.0\.0\.1:\d+ unreachable \(.*ECONNREFUSED.*\); retrying$/,
    );
  });
});
