// A bare aedes broker in a process of its own, for the baseline: the same aedes the hub embeds,
// with the same router (hub/src/broker/mq.ts: aedes's own overflows the stack when unsubscribed
// messages queue behind slow deliveries, as they do in the latency scenario) and no hooks. Listens on the port given as the first argument (0: any free one) and prints
// "aedes ready <port>". Its sockets have TCP_NODELAY, as Mosquitto's have with set_tcp_nodelay:
// without it, a PUBACK written while an earlier segment is unacknowledged waits for the peer's
// delayed ACK (Nagle), which caps what a publisher with a small window can send.
//
// With a second argument, a JSON file of BareAedesConfig: the hub's device authentication
// (bare-auth.ts) and, with a certificate, MQTT over TLS on a second port too, announced as
// "aedes ready <port> tls <port>".

import fs from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { Aedes } from "aedes";
import { createRouter } from "../../hub/src/broker/mq.ts";
import { authHooks, type BareAedesConfig } from "./bare-auth.ts";

const configFile = process.argv[3];
const config: BareAedesConfig | null =
  configFile === undefined ? null : JSON.parse(fs.readFileSync(configFile, "utf8"));

const aedes = await Aedes.createBroker({
  mq: createRouter(100),
  ...(config === null ? {} : authHooks(config.accounts)),
});
const servers: net.Server[] = [net.createServer({ noDelay: true }, aedes.handle)];
if (config?.tls) {
  const { cert, key } = config.tls;
  servers.push(tls.createServer({ cert, key, noDelay: true }, aedes.handle));
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

const [port, tlsPort] = [
  await listen(servers[0] as net.Server, Number(process.argv[2] ?? 0)),
  servers[1] === undefined ? undefined : await listen(servers[1], 0),
];
process.stdout.write(`aedes ready ${port}${tlsPort === undefined ? "" : ` tls ${tlsPort}`}\n`);

const stop = () => {
  for (const server of servers) server.close();
  aedes.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
