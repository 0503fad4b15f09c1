// The GPX reader runs on a worker thread: while it reads a large file the event loop keeps
// turning (the hub goes on taking live fixes); its answers and refusals are those of parseImport;
// a third GPX import while two are read is refused with 503.

import { describe, expect, it } from "vitest";
import { ImportReader, MAX_CONCURRENT_GPX } from "./import-offload.ts";
import { ImportError } from "./import-parse.ts";

const NOW = Date.now();
const OPTIONS = { receivedAt: NOW, notAfter: NOW + 600_000, maxBytes: 16 * 1024 * 1024 };

function gpx(n: number): string {
  const t0 = NOW - n * 1000 - 60_000;
  let pts = "";
  for (let i = 0; i < n; i++) {
    pts += `<trkpt lat="${(52 + i * 1e-6).toFixed(6)}" lon="13.4"><time>${new Date(t0 + i * 1000).toISOString()}</time></trkpt>`;
  }
  return `<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>${pts}</trkseg></trk></gpx>`;
}

describe("ImportReader", () => {
  it("reads GPX on a worker while the event loop keeps turning", async () => {
    const reader = new ImportReader();
    let done = false;
    const reading = reader.read("gpx", gpx(5000), "van-1", OPTIONS).finally(() => {
      done = true;
    });
    // Read on this thread, the file would be read before read() returned, and the loop below
    // would find it done at once.
    let turns = 0;
    while (!done) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    const result = await reading;
    expect(result.fixes).toHaveLength(5000);
    expect(result.fixes[0]).toMatchObject({ vehicle_id: "van-1", latitude: 52, longitude: 13.4 });
    expect(turns).toBeGreaterThan(10);
  }, 60_000);

  it("passes on the reader's refusals", async () => {
    const reader = new ImportReader();
    const err = await reader.read("gpx", "<gpx><trk>", "van-1", OPTIONS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).status).toBe(400);
  }, 60_000);

  it(`refuses a GPX import beyond ${MAX_CONCURRENT_GPX} at once with 503`, async () => {
    const reader = new ImportReader();
    const running = Array.from({ length: MAX_CONCURRENT_GPX }, () =>
      reader.read("gpx", gpx(200), "van-1", OPTIONS),
    );
    const refused = await reader.read("gpx", gpx(1), "van-1", OPTIONS).catch((e: unknown) => e);
    expect((refused as ImportError).status).toBe(503);
    for (const r of await Promise.all(running)) expect(r.fixes).toHaveLength(200);
    // Once they are done, the next is taken.
    expect((await reader.read("gpx", gpx(2), "van-1", OPTIONS)).fixes).toHaveLength(2);
  }, 60_000);
});
