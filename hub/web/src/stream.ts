// The live stream client (GET /api/v1/stream): authenticates with its first message, then hands
// on the snapshot and the updates. A dropped connection is retried with growing delays; a refused
// token (close code 4401) is not retried but reported, so the page can ask for another.

import type { StreamMessage } from "./types.ts";

export type StreamState = "connecting" | "live" | "reconnecting";

export interface StreamHandlers {
  /** `receivedAt` is performance.now() when the message arrived, for the page's measurements. */
  message(message: StreamMessage, receivedAt: number): void;
  refused(reason: string): void;
  state(state: StreamState): void;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
const REFUSED = 4401;

const TYPES = new Set(["snapshot", "fixes", "event", "geofence", "status"]);

export function streamUrl(loc: Location = location): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/stream`;
}

export class StreamClient {
  private socket: WebSocket | null = null;
  private delay = FIRST_DELAY_MS;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly on: StreamHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "logged out");
  }

  private connect(): void {
    this.on.state(this.delay === FIRST_DELAY_MS ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "auth", token: this.token }));
    });
    socket.addEventListener("message", (e) => {
      const receivedAt = performance.now();
      if (socket !== this.socket || typeof e.data !== "string") return;
      let message: StreamMessage;
      try {
        message = JSON.parse(e.data) as StreamMessage;
      } catch {
        return; // Not JSON: nothing the page can show.
      }
      if (!message || !TYPES.has(message.type)) return; // A newer hub's message type.
      if (message.type === "snapshot") {
        this.delay = FIRST_DELAY_MS;
        this.on.state("live");
      }
      this.on.message(message, receivedAt);
    });
    socket.addEventListener("close", (e) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (e.code === REFUSED) {
        this.stopped = true;
        this.on.refused(e.reason || "the hub refused the token");
        return;
      }
      this.on.state("reconnecting");
      // Jitter, so that many pages do not all come back at the same instant after a restart.
      const wait = this.delay * (0.75 + Math.random() * 0.5);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
      this.retry = setTimeout(() => {
        this.retry = null;
        if (!this.stopped) this.connect();
      }, wait);
    });
  }
}
