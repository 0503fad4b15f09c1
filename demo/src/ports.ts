// Ports for the demo: the usual environment variables when set; otherwise the defaults, or any
// free port when a default is taken (a Mosquitto on 1883, another hub on 3000).

import net from "node:net";

export interface PortChoice {
  port: number;
  /** Set when the default was taken and another port is used; says so in one line. */
  note: string | null;
}

/** Whether host:port can be listened on right now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * For a port setting left unset: `fallback` when free, else 0 (the system picks a free port,
 * reported once bound). A port set explicitly is not looked at here: a taken one fails as with
 * `npm start`.
 */
export async function choosePort(
  setting: string,
  host: string,
  fallback: number,
): Promise<PortChoice> {
  if (await portFree(host, fallback)) return { port: fallback, note: null };
  return {
    port: 0,
    note: `port ${fallback} on ${host} is in use, so the demo takes a free one (set ${setting} to choose)`,
  };
}
