// A bare aedes broker in a process of its own, for the baseline: the same aedes the hub embeds,
// with the same router (hub/src/broker/mq.ts: aedes's own overflows the stack when unsubscribed
// messages queue behind slow deliveries, as they do in the latency scenario) and no hooks. Listens on the port given as the first argument (0: any free one) and prints
// "aedes ready <port>". Its sockets have TCP_NODELAY, as Mosquitto's have with set_tcp_nodelay:
// without it, a PUBACK written while an earlier segment is unacknowledged waits for the peer's
// delayed ACK (Nagle), which caps what a publisher with a small window can send.

import net from "node:net";
import { Aedes } from "aedes";
import { createRouter } from "../../hub/src/broker/mq.ts";

const aedes = await Aedes.createBroker({ mq: createRouter(100) });
const server = net.createServer({ noDelay: true }, aedes.handle);
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`aedes ready ${port}\n`);
});

const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
