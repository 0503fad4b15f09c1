// GET /api/v1/stream: the live stream over WebSocket (CONTRACT §5, docs/stream.md). The socket is
// outside the bearer-token hook: tokens never go in URLs, so the client's first message carries
// it, checked as REST checks a bearer token. Then the snapshot, then the live feed's messages,
// written by the client's session (live/session.ts), which bounds what a slow client can hold.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { TokenRole } from "../identity/principal.ts";
import { StreamClients } from "../live/clients.ts";
import type { Sink, StreamSession } from "../live/session.ts";
import { tokenCheck } from "./auth.ts";
import type { ApiDeps, StreamDeps } from "./deps.ts";
import { ApiError } from "./errors.ts";
import { ErrorSchema } from "./schemas.ts";
import { readSnapshot } from "./stream-snapshot.ts";

export const STREAM_PATH = "/api/v1/stream";

/** Largest message a client may send (its auth message); a bigger one closes with 1009. */
export const MAX_CLIENT_MESSAGE_BYTES = 4096;

/** Close codes: the contract's 4401 for authentication; the rest are the standard ones. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_TRY_AGAIN_LATER = 1013;
const CLOSE_INTERNAL = 1011;

/** After a close the hub started, how long the client has to answer before the socket is cut. */
const CLOSE_GRACE_MS = 2000;

/**
 * How often each socket is pinged; one that has not answered the previous ping is cut. A peer
 * that vanished without closing would otherwise hold its slot while nothing is sent to it.
 */
export const PING_INTERVAL_MS = 30_000;

const AUTH_EXAMPLE = '{"type":"auth","token":"…"}';

/** The token of a first message, or what is wrong with it (a close reason, ≤ 123 bytes). */
export function authToken(data: RawData, isBinary: boolean): { token: string } | { error: string } {
  const wrong = { error: `the first message must be ${AUTH_EXAMPLE}` };
  if (isBinary) return wrong;
  let message: unknown;
  try {
    message = JSON.parse(data.toString());
  } catch {
    return { error: `the first message is not JSON: send ${AUTH_EXAMPLE}` };
  }
  if (typeof message !== "object" || message === null) return wrong;
  const { type, token } = message as { type?: unknown; token?: unknown };
  if (type !== "auth" || typeof token !== "string" || token === "") return wrong;
  return { token };
}

/** Closes now, and cuts the connection if the client does not answer the close in time. */
function closeSocket(ws: WebSocket, code: number, reason: string): void {
  ws.close(code, reason);
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}

function sinkOf(ws: WebSocket): Sink {
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data) => ws.send(data, { binary: false }),
    close: (code, reason) => closeSocket(ws, code, reason),
  };
}

function pathOf(url: string | undefined): string {
  const path = (url ?? "").split("?", 1)[0] ?? "";
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

export const streamRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    "/stream",
    {
      schema: {
        tags: ["stream"],
        summary: "Live updates over WebSocket",
        description:
          'Open a WebSocket here; the first message is {"type":"auth","token":"…"}. Then a snapshot and live fixes, events, geofence changes and vehicle status (docs/stream.md). A plain GET gets 426.',
        security: [],
        response: { 426: ErrorSchema },
      },
    },
    async () => {
      throw new ApiError(
        "LOCUS_UPGRADE_REQUIRED",
        426,
        `${STREAM_PATH} is a WebSocket: open it with a WebSocket client and send ${AUTH_EXAMPLE} first`,
      );
    },
  );
  const stream = deps.stream;
  if (stream === undefined) return;

  const check = tokenCheck(deps.token, deps.accounts);
  const clients = new StreamClients(stream.feed, stream.limits, stream.metrics);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const sockets = new Set<WebSocket>();
  /** Sockets that answered the latest ping (browsers answer on their own). */
  const alive = new WeakSet<WebSocket>();
  let stopping = false;
  const pinger = setInterval(() => {
    for (const ws of sockets) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, PING_INTERVAL_MS);
  pinger.unref();

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(request.url) !== STREAM_PATH || stopping) {
      socket.end(`HTTP/1.1 ${stopping ? "503 Service Unavailable" : "404 Not Found"}\r\n\r\n`);
      return;
    }
    socket.on("error", () => socket.destroy());
    wss.handleUpgrade(request, socket, head, (ws) => {
      // A bad frame (or one over the size limit) is an 'error' here: logged, and ws closes it.
      ws.on("error", (err) => app.log.debug({ err: err.message }, "stream client socket error"));
      sockets.add(ws);
      alive.add(ws);
      ws.on("pong", () => alive.add(ws));
      ws.on("close", () => sockets.delete(ws));
      // Before the handshake the client cannot be told why: after it, a close code says so.
      if (!clients.reserve()) {
        closeSocket(
          ws,
          CLOSE_TRY_AGAIN_LATER,
          `the hub has ${stream.limits.maxClients} stream clients (LOCUS_STREAM_MAX_CLIENTS): retry later`,
        );
        return;
      }
      ws.on("close", () => clients.release());
      connected(ws, stream);
    });
  };
  app.server.on("upgrade", onUpgrade);

  /** A connection that holds a slot: authentication first, then its session. */
  const connected = (ws: WebSocket, stream: StreamDeps) => {
    let phase: "auth" | "checking" | "open" = "auth";
    let session: StreamSession | null = null;
    const timer = setTimeout(() => {
      closeSocket(
        ws,
        CLOSE_UNAUTHORIZED,
        `no auth message within ${stream.authTimeoutMs / 1000} s: send ${AUTH_EXAMPLE} first`,
      );
    }, stream.authTimeoutMs);
    ws.on("close", () => {
      clearTimeout(timer);
      if (session !== null) clients.close(session);
    });
    ws.on("message", (data, isBinary) => {
      if (phase !== "auth") {
        // The stream is one-way once authenticated: a client that talks is misbehaving.
        closeSocket(ws, CLOSE_POLICY, "the stream takes no messages after the auth message");
        return;
      }
      phase = "checking";
      clearTimeout(timer);
      const parsed = authToken(data, isBinary);
      if ("error" in parsed) {
        closeSocket(ws, CLOSE_UNAUTHORIZED, parsed.error);
        return;
      }
      check(parsed.token).then(
        (role) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (role === null) {
            closeSocket(
              ws,
              CLOSE_UNAUTHORIZED,
              "wrong token: use the hub's token or one issued with POST /api/v1/tokens",
            );
            return;
          }
          phase = "open";
          session = clients.open(sinkOf(ws));
          start(ws, session, role);
        },
        (err: Error) => {
          app.log.warn({ err: err.message }, "stream token check failed");
          closeSocket(ws, CLOSE_INTERNAL, "the token could not be checked: retry");
        },
      );
    });
  };

  /** Reads and sends the snapshot; the session holds what the feed publishes meanwhile. */
  const start = (ws: WebSocket, session: StreamSession, role: TokenRole) => {
    readSnapshot(deps, role).then(
      (snapshot) => session.start(snapshot),
      (err: Error) => {
        app.log.warn({ err: err.message }, "stream snapshot failed");
        if (ws.readyState === WebSocket.OPEN) {
          closeSocket(ws, CLOSE_INTERNAL, "the snapshot could not be read: reconnect");
        }
      },
    );
  };

  // Before the HTTP server closes: every stream client is told the hub is going away.
  app.addHook("preClose", async () => {
    stopping = true;
    clearInterval(pinger);
    app.server.off("upgrade", onUpgrade);
    clients.stop();
    const open = [...sockets];
    await Promise.all(
      open.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once("close", () => resolve());
            closeSocket(ws, CLOSE_GOING_AWAY, "the hub is stopping");
          }),
      ),
    );
    wss.close();
  });
};
