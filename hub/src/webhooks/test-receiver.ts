// A real HTTP endpoint on 127.0.0.1 for the webhook tests: it records what it receives and answers
// as the test says (a status, a redirect, or no answer at all), and lets a test wait for requests.

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What to answer request number `n` (0-based): a status (with headers), or "hang": never answer. */
export type Respond = (
  n: number,
  req: Received,
) => { status: number; headers?: Record<string, string> } | "hang";

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `test` holds for what was received (checked after each request). */
  until(test: (received: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(respond: Respond = () => ({ status: 204 })): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      const n = received.length;
      received.push(entry);
      for (const wake of waiters) wake();
      const answer = respond(n, entry);
      if (answer === "hang") return;
      res.writeHead(answer.status, answer.headers).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    until(test, timeoutMs = 15_000) {
      if (test(received)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `receiver: condition not met within ${timeoutMs} ms (${received.length} requests)`,
            ),
          );
        }, timeoutMs);
        function check() {
          if (!test(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
        waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
