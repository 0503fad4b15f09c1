// A stand-in for the hub in the map benchmark: serves the real built page (hub/web/dist) and speaks
// the live stream's protocol on /api/v1/stream (auth, snapshot, fixes) with a synthetic fleet, so
// what is measured is the page's cost alone, not the hub's or the broker's.

import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { WebSocket, WebSocketServer } from "ws";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const WEB_DIST = path.join(ROOT, "hub", "web", "dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".geojson": "application/geo+json",
  ".pbf": "application/x-protobuf",
  ".pmtiles": "application/octet-stream",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

export interface Fix {
  vehicle_id: string;
  ts: string;
  latitude: number;
  longitude: number;
  speed: number;
  heading: number;
  seq: number;
}

/** A fleet spread over a box around Los Angeles, each vehicle driving at 5–20 m/s. */
export class SyntheticFleet {
  private readonly lat: Float64Array;
  private readonly lon: Float64Array;
  private readonly heading: Float64Array;
  private readonly speed: Float64Array;
  private seq = 0;

  constructor(readonly size: number) {
    this.lat = new Float64Array(size);
    this.lon = new Float64Array(size);
    this.heading = new Float64Array(size);
    this.speed = new Float64Array(size);
    // A fixed sequence, so every run draws the same fleet.
    let state = 12345;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    for (let i = 0; i < size; i++) {
      this.lat[i] = 33.7 + random() * 0.6;
      this.lon[i] = -118.6 + random() * 0.8;
      this.heading[i] = random() * 360;
      this.speed[i] = 5 + random() * 15;
    }
  }

  id(i: number): string {
    return `veh-${String(i).padStart(6, "0")}`;
  }

  /** Moves every vehicle by `seconds` of driving, turning a little, and returns their fixes. */
  step(seconds: number): Fix[] {
    this.seq++;
    const ts = new Date().toISOString();
    const fixes: Fix[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const heading = ((this.heading[i] as number) + (i % 7) - 3 + 360) % 360;
      const rad = (heading * Math.PI) / 180;
      const metres = (this.speed[i] as number) * seconds;
      const lat = (this.lat[i] as number) + (metres * Math.cos(rad)) / 111_195;
      const lon =
        (this.lon[i] as number) +
        (metres * Math.sin(rad)) / (111_195 * Math.cos((lat * Math.PI) / 180));
      this.lat[i] = lat;
      this.lon[i] = lon;
      this.heading[i] = heading;
      fixes[i] = this.fix(i, ts);
    }
    return fixes;
  }

  fix(i: number, ts = new Date().toISOString()): Fix {
    return {
      vehicle_id: this.id(i),
      ts,
      latitude: Math.round((this.lat[i] as number) * 1e6) / 1e6,
      longitude: Math.round((this.lon[i] as number) * 1e6) / 1e6,
      speed: Math.round((this.speed[i] as number) * 10) / 10,
      heading: Math.round(this.heading[i] as number),
      seq: this.seq,
    };
  }

  /** The snapshot's vehicles, in the shape of GET /api/v1/vehicles. */
  vehicles(): unknown[] {
    const ts = new Date().toISOString();
    return Array.from({ length: this.size }, (_, i) => ({
      id: this.id(i),
      last_fix: this.fix(i, ts),
      geofences: [],
      status: "online",
    }));
  }
}

function pagePolicy(host = "127.0.0.1"): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://${host}`,
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export interface MapStreamServer {
  url: string;
  token: string;
  /** Clients that sent a valid auth message and were sent their snapshot. */
  readonly clients: number;
  /** Resolves with the time (Date.now) the next snapshot was handed to the socket. */
  nextSnapshotSent(): Promise<number>;
  /** Sends one `fixes` message to every client; resolves once written. */
  broadcast(fixes: Fix[]): Promise<void>;
  close(): Promise<void>;
}

export async function startMapStream(
  fleet: () => SyntheticFleet,
  geofences: unknown,
  token = "bench-map-token-0123456789",
  dist = WEB_DIST,
): Promise<MapStreamServer> {
  if (!fs.existsSync(path.join(dist, "index.html"))) {
    throw new Error(`${dist}/index.html is missing: run npm run build:web first`);
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    // What the hub answers beside the built files: the map's config (its offline basemap) and
    // the recent events the page asks for once.
    const answers: Record<string, unknown> = {
      "/map/config.json": { style_url: null },
      "/api/v1/events": { events: [] },
    };
    const answer = answers[url.pathname];
    if (answer !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
      return;
    }
    const rel = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname.slice(1));
    const file = path.resolve(dist, rel);
    if (
      !file.startsWith(dist + path.sep) ||
      !fs.existsSync(file) ||
      fs.statSync(file).isDirectory()
    ) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          statusCode: 404,
          error: "Not Found",
          message: `${url.pathname} is not served by the benchmark`,
        }),
      );
      return;
    }
    const headers: Record<string, string> = {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
    };
    // The hub's policy for the page, so the page runs here under the same rules.
    if (file.endsWith(".html")) headers["content-security-policy"] = pagePolicy(req.headers.host);
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const authed = new Set<WebSocket>();
  let snapshotWaiters: ((at: number) => void)[] = [];
  server.on("upgrade", (req, socket, head) => {
    if (!req.url?.startsWith("/api/v1/stream")) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once("message", (data) => {
        let msg: { type?: string; token?: string } = {};
        try {
          msg = JSON.parse(String(data));
        } catch {}
        if (msg.type !== "auth" || msg.token !== token) {
          ws.close(4401, "wrong token");
          return;
        }
        const snapshot = JSON.stringify({
          type: "snapshot",
          role: "admin",
          vehicles: fleet().vehicles(),
          geofences,
          stale_after_s: 300,
        });
        ws.send(snapshot, () => {
          authed.add(ws);
          const waiters = snapshotWaiters;
          snapshotWaiters = [];
          for (const w of waiters) w(Date.now());
        });
      });
      ws.on("close", () => authed.delete(ws));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    token,
    get clients() {
      return authed.size;
    },
    nextSnapshotSent: () => new Promise((resolve) => snapshotWaiters.push(resolve)),
    async broadcast(fixes) {
      const message = JSON.stringify({ type: "fixes", fixes });
      await Promise.all(
        [...authed]
          .filter((ws) => ws.readyState === WebSocket.OPEN)
          .map((ws) => new Promise<void>((resolve) => ws.send(message, () => resolve()))),
      );
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
