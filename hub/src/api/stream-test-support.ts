// A plain WebSocket client of GET /api/v1/stream for tests: it records every message and the
// close, and lets a test wait for a message that matches, with a bounded timeout.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { WebSocket } from "ws";
import { loadConfig } from "../config.ts";
import { type Hub, startHub } from "../hub.ts";

export const STREAM_TOKEN = "stream-test-token-0123456789";

// biome-ignore lint/suspicious/noExplicitAny: messages are JSON the tests pick apart
export type Message = any;

export interface StreamClient {
  ws: WebSocket;
  messages: Message[];
  /** Resolves with the first message (seen or to come) that matches; rejects after timeoutMs. */
  next(match: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens the stream; sends `{"type":"auth","token":…}` first unless `auth` is null (or raw text). */
export async function openStream(
  hub: Pick<Hub, "httpUrl">,
  auth: { token: string } | { raw: string } | null,
): Promise<StreamClient> {
  const ws = new WebSocket(`${hub.httpUrl.replace(/^http/, "ws")}/api/v1/stream`);
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  if (auth !== null) ws.send("raw" in auth ? auth.raw : JSON.stringify({ type: "auth", ...auth }));
  const next = (match: (m: Message) => boolean, timeoutMs = 10_000) =>
    new Promise<Message>((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < messages.length; seen++) {
          if (match(messages[seen])) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(messages[seen]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching stream message in ${timeoutMs} ms; got ${messages.length}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { ws, messages, next, closed };
}

export interface TestHub {
  hub: Hub;
  dir: string;
  close(): Promise<void>;
}

/** A hub on free ports, in a fresh data dir, with extra settings. */
export async function startTestHub(env: Record<string, string> = {}): Promise<TestHub> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-stream-"));
  const config = loadConfig({
    LOCUS_DATA_DIR: dir,
    LOCUS_HTTP_PORT: "0",
    LOCUS_MQTT_PORT: "0",
    LOCUS_API_TOKEN: STREAM_TOKEN,
    LOCUS_OUTBOX_GRACE_MS: "0",
    ...env,
  });
  const hub = await startHub(config, pino({ level: "silent" }));
  return {
    hub,
    dir,
    close: async () => {
      await hub.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A REST request with the hub's token; the JSON answer (null for none). */
export async function rest(hub: Hub, method: string, url: string, body?: unknown) {
  const res = await fetch(`${hub.httpUrl}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${hub.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text) };
}

/** The hub's metrics as name{labels} → value. */
export async function metrics(hub: Hub): Promise<Map<string, number>> {
  const res = await fetch(`${hub.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${hub.token}` },
  });
  const values = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}
