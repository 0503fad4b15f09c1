// A throwaway 3-node RabbitMQ cluster (quorum queues, rabbitmq_mqtt, consistent-hash exchange) on
// free loopback ports: its own epmd on its own port, its own node names, Erlang cookie (through
// HOME), data and log directories, config and enabled-plugins files. Every process here is
// started, killed (SIGKILL, by PID) and restarted by this module alone; the machine's own
// RabbitMQ and epmd are never used.

import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import amqp from "amqplib";
import { at, freePorts, ServerProcess, waitFor } from "../../tests/support/node-process.ts";

const run = promisify(execFile);

export const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";
const EPMD = "/usr/bin/epmd";

export const RABBIT_PLUGINS = ["rabbitmq_mqtt", "rabbitmq_consistent_hash_exchange"];

export interface RabbitNode {
  /** Short name (r1, r2, r3); the Erlang node is `locus-<short>@localhost`. */
  name: string;
  erlangNode: string;
  amqpUrl: string;
  mqttPort: number;
  process: ServerProcess;
}

export interface RabbitClusterOptions {
  size?: number;
  timeoutMs?: number;
}

export class RabbitCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: RabbitNode[],
    readonly epmd: ServerProcess,
    private readonly ctlEnv: NodeJS.ProcessEnv,
  ) {}

  /** Starts epmd, the first node, then the others (which join it), and waits for all three. */
  static async start(options: RabbitClusterOptions = {}): Promise<RabbitCluster> {
    const size = options.size ?? 3;
    const timeoutMs = options.timeoutMs ?? 90_000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-rabbit-"));
    // Distribution ports stay below 55,000: the CLI tools take the port 10,000 above.
    const ports = await freePorts(size * 3 + 1, 20_000, 30_000);
    const epmdPort = at(ports, 0);
    const home = path.join(dir, "home");
    fs.mkdirSync(home);
    const cookie = path.join(home, ".erlang.cookie");
    fs.writeFileSync(cookie, crypto.randomBytes(24).toString("hex"));
    fs.chmodSync(cookie, 0o400);
    const emptyEnvFile = path.join(dir, "rabbitmq-env.conf");
    fs.writeFileSync(emptyEnvFile, "");
    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      LANG: "C.UTF-8",
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: "127.0.0.1",
      RABBITMQ_CONF_ENV_FILE: emptyEnvFile,
      // rabbitmqctl must not start an epmd of its own either (e.g. while the cluster stops).
      RABBITMQ_CTL_ERL_ARGS: "-start_epmd false",
    };
    const epmd = new ServerProcess(
      "epmd",
      EPMD,
      ["-port", String(epmdPort), "-address", "127.0.0.1"],
      baseEnv,
      path.join(dir, "epmd.log"),
    );
    const names = Array.from({ length: size }, (_, i) => `r${i + 1}`);
    const erlangNodes = names.map((n) => `locus-${n}@localhost`);
    const nodes: RabbitNode[] = names.map((name, i) => {
      const amqpPort = at(ports, 1 + i);
      const distPort = at(ports, 1 + size + i);
      const mqttPort = at(ports, 1 + size * 2 + i);
      const nodeDir = path.join(dir, name);
      fs.mkdirSync(path.join(nodeDir, "log"), { recursive: true });
      const config = [
        `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
        `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
        "mqtt.allow_anonymous = true",
        "log.console = false",
        "log.file.level = info",
        "cluster_formation.peer_discovery_backend = classic_config",
        ...erlangNodes.map(
          (node, j) => `cluster_formation.classic_config.nodes.${j + 1} = ${node}`,
        ),
      ].join("\n");
      fs.writeFileSync(path.join(nodeDir, "rabbitmq.conf"), `${config}\n`);
      fs.writeFileSync(path.join(nodeDir, "enabled_plugins"), `[${RABBIT_PLUGINS.join(",")}].\n`);
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        RABBITMQ_NODENAME: at(erlangNodes, i),
        RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
        RABBITMQ_NODE_PORT: String(amqpPort),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_MNESIA_BASE: path.join(nodeDir, "mnesia"),
        RABBITMQ_LOG_BASE: path.join(nodeDir, "log"),
        RABBITMQ_CONFIG_FILE: path.join(nodeDir, "rabbitmq.conf"),
        RABBITMQ_ADVANCED_CONFIG_FILE: path.join(nodeDir, "advanced.config"),
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(nodeDir, "enabled_plugins"),
        RABBITMQ_PID_FILE: path.join(nodeDir, "rabbit.pid"),
        ERL_CRASH_DUMP: path.join(nodeDir, "erl_crash.dump"),
        // The script then execs the Erlang VM, so the PID we hold is the broker's own.
        RABBITMQ_ALLOW_INPUT: "true",
        // No scheduler busy-waiting: three VMs share two cores here (and share cores in production).
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:
          "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none",
      };
      const server = new ServerProcess(
        name,
        RABBITMQ_SERVER,
        [],
        env,
        path.join(nodeDir, "server.log"),
        true,
      );
      return {
        name,
        erlangNode: at(erlangNodes, i),
        amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
        mqttPort,
        process: server,
      };
    });
    const cluster = new RabbitCluster(dir, nodes, epmd, baseEnv);
    try {
      epmd.start();
      // The VMs must find this epmd, never start one of their own (-start_epmd false).
      await waitFor("epmd to listen", () => canConnect(epmdPort), 10_000, 50);
      // All at once: classic_config peer discovery takes a cluster-wide lock, so the first node
      // to get it forms the cluster and the others join it.
      for (const node of nodes) node.process.start();
      for (const node of nodes) await cluster.waitServing(node, timeoutMs);
      await waitFor(
        `all ${size} RabbitMQ nodes running in one cluster`,
        async () => (await cluster.runningNodes()).length === size,
        timeoutMs,
        500,
      );
    } catch (err) {
      const logs = nodes.map((n) => `--- ${n.name}\n${n.process.tail(1500)}`).join("\n");
      await cluster.stop();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return cluster;
  }

  node(name: string): RabbitNode {
    const node = this.nodes.find((n) => n.name === name || n.erlangNode === name);
    if (!node) throw new Error(`no node named ${name}`);
    return node;
  }

  /** PIDs of the running server processes (the Erlang VMs; epmd apart). */
  pids(): number[] {
    return this.nodes.filter((n) => n.process.running).map((n) => n.process.pid);
  }

  /** Resolves once the node accepts an AMQP connection (which it does only after booting). */
  async waitServing(node: RabbitNode, timeoutMs: number): Promise<void> {
    await waitFor(
      `${node.name} to accept AMQP connections`,
      async () => {
        if (!node.process.running) throw new Error(`${node.name} exited:\n${node.process.tail()}`);
        const conn = await amqp.connect(node.amqpUrl, { timeout: 1000 });
        await conn.close();
        return true;
      },
      timeoutMs,
      200,
    );
  }

  /** Erlang node names the cluster reports as running, asked through the first running node. */
  async runningNodes(): Promise<string[]> {
    const out = await this.ctl(["cluster_status", "--formatter", "json"]);
    const status = JSON.parse(out) as { running_nodes: string[] };
    return status.running_nodes;
  }

  /** Runs rabbitmqctl against a running node with this cluster's cookie and epmd. */
  async ctl(args: string[], nodeName?: string): Promise<string> {
    const node = nodeName ? this.node(nodeName) : this.nodes.find((n) => n.process.running);
    if (!node) throw new Error("no RabbitMQ node is running");
    const { stdout } = await run(RABBITMQCTL, ["-n", node.erlangNode, ...args], {
      env: this.ctlEnv,
      timeout: 30_000,
    });
    return stdout;
  }

  /** SIGKILL one node's Erlang VM. */
  async kill(name: string): Promise<void> {
    await this.node(name).process.stop("SIGKILL");
  }

  /** Starts a killed node again with its own data; it rejoins the cluster by itself. */
  async restart(name: string, timeoutMs = 90_000): Promise<void> {
    const node = this.node(name);
    node.process.start();
    try {
      await this.waitServing(node, timeoutMs);
    } catch (err) {
      const log = path.join(this.dir, node.name, "log", `${node.erlangNode}.log`);
      const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-3000) : "";
      throw new Error(`${(err as Error).message}\n${tail}`);
    }
  }

  /** Stops every node and epmd (SIGKILL by PID) and removes the data directory. */
  async stop(): Promise<void> {
    for (const node of this.nodes) await node.process.stop("SIGKILL");
    await this.epmd.stop("SIGKILL");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
