// Requests to a hub's REST API over http, or over https trusting a given CA (a hub started with
// a throwaway certificate, which fetch would refuse).

import http from "node:http";
import https from "node:https";

/** Where a hub's API answers, its admin token, and the CA its certificate is signed by, if any. */
export interface HubEndpoint {
  httpUrl: string;
  token: string;
  ca?: string;
}

/** One request with the hub's token; the answer's status and its text. */
export function hubRequest(
  hub: HubEndpoint,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const url = new URL(route, hub.httpUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization: `Bearer ${hub.token}` };
  if (payload !== undefined) headers["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    };
    const req =
      url.protocol === "https:"
        ? https.request(url, { method, headers, ...(hub.ca ? { ca: hub.ca } : {}) }, done)
        : http.request(url, { method, headers }, done);
    req.on("error", reject);
    req.end(payload);
  });
}

/** A request whose answer must have `status`; resolves with the parsed JSON body. */
export async function hubJson<T>(
  hub: HubEndpoint,
  method: string,
  route: string,
  body: unknown,
  status: number,
): Promise<T> {
  const res = await hubRequest(hub, method, route, body);
  if (res.status !== status) {
    throw new Error(`${method} ${route}: ${res.status} ${res.text.slice(0, 300)}`);
  }
  return JSON.parse(res.text) as T;
}
