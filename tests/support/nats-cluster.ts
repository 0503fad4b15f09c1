// A throwaway 3-node NATS cluster with JetStream and the MQTT listener, on free loopback ports
// with its own data directory, for the engine benchmark and the engine smoke test. Every node is
// started, killed (SIGKILL, by PID) and restarted by this module alone.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "nats";
import { at, freePorts, ServerProcess, waitFor } from "./node-process.ts";

export const NATS_SERVER = "/usr/sbin/nats-server";

export interface NatsNode {
  /** `server_name`, as JetStream reports leaders: n1, n2, n3. */
  name: string;
  url: string;
  mqttPort: number;
  process: ServerProcess;
}

export interface NatsClusterOptions {
  size?: number;
  /** Replicas of the MQTT listener's own streams (sessions, retained, QoS 1 deliveries). */
  mqttReplicas?: number;
  /** How long start() may take before it fails. */
  timeoutMs?: number;
}

export class NatsCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: NatsNode[],
  ) {}

  /** Starts every node and resolves once JetStream answers with a meta leader. */
  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-nats-"));
    const ports = await freePorts(size * 3);
    const clientPorts = ports.slice(0, size);
    const routePorts = ports.slice(size, size * 2);
    const mqttPorts = ports.slice(size * 2);
    const nodes: NatsNode[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const nodeDir = path.join(dir, name);
      fs.mkdirSync(nodeDir);
      const routes = routePorts
        .filter((_, j) => j !== i)
        .map((port) => `nats-route://127.0.0.1:${port}`);
      const config = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${at(clientPorts, i)}`,
        "max_payload: 1MB",
        `jetstream { store_dir: "${nodeDir}/js", max_memory_store: 256MB, max_file_store: 4GB }`,
        `cluster { name: locus, listen: 127.0.0.1:${at(routePorts, i)}, routes: [${routes.join(", ")}] }`,
        `mqtt { listen: 127.0.0.1:${at(mqttPorts, i)}, stream_replicas: ${options.mqttReplicas ?? size} }`,
      ].join("\n");
      const configFile = path.join(nodeDir, "nats.conf");
      fs.writeFileSync(configFile, `${config}\n`);
      const server = new ServerProcess(
        name,
        NATS_SERVER,
        ["-c", configFile],
        { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        path.join(nodeDir, "server.log"),
      );
      nodes.push({
        name,
        url: `nats://127.0.0.1:${at(clientPorts, i)}`,
        mqttPort: at(mqttPorts, i),
        process: server,
      });
    }
    const cluster = new NatsCluster(dir, nodes);
    for (const node of nodes) node.process.start();
    try {
      await cluster.waitReady(options.timeoutMs ?? 30_000);
    } catch (err) {
      const logs = nodes.map((n) => `--- ${n.name}\n${n.process.tail(800)}`).join("\n");
      await cluster.stop();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return cluster;
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node named ${name}`);
    return node;
  }

  /** PIDs of the nodes that are running now. */
  pids(): number[] {
    return this.nodes.filter((n) => n.process.running).map((n) => n.process.pid);
  }

  /**
   * Resolves once every running node answers JetStream account info and the cluster can place a
   * stream on all its nodes (until then, creating an R3 stream fails with "no suitable peers").
   */
  async waitReady(timeoutMs: number): Promise<void> {
    for (const node of this.nodes.filter((n) => n.process.running)) {
      await waitFor(
        `JetStream on ${node.name}`,
        async () => {
          const nc = await connect({ servers: node.url, reconnect: false, timeout: 1000 });
          try {
            const jsm = await nc.jetstreamManager({ timeout: 1000 });
            const info = await jsm.getAccountInfo();
            return info !== undefined;
          } finally {
            await nc.close();
          }
        },
        timeoutMs,
        200,
      );
    }
    const replicas = this.nodes.filter((n) => n.process.running).length;
    await waitFor(
      `JetStream placing a stream on ${replicas} nodes`,
      async () => {
        const nc = await connect({ servers: this.urls, reconnect: false, timeout: 1000 });
        try {
          const jsm = await nc.jetstreamManager({ timeout: 2000 });
          await jsm.streams.add({
            name: "READY",
            subjects: ["ready.probe"],
            num_replicas: replicas,
          });
          await jsm.streams.delete("READY");
          return true;
        } finally {
          await nc.close();
        }
      },
      timeoutMs,
      200,
    );
  }

  /** SIGKILL one node. */
  async kill(name: string): Promise<void> {
    await this.node(name).process.stop("SIGKILL");
  }

  /** Starts a killed node again on its own ports and data, and waits until it serves clients. */
  async restart(name: string, timeoutMs = 30_000): Promise<void> {
    const node = this.node(name);
    node.process.start();
    await waitFor(
      `${name} to accept clients again`,
      async () => {
        const nc = await connect({ servers: node.url, reconnect: false, timeout: 1000 });
        await nc.close();
        return true;
      },
      timeoutMs,
      100,
    );
  }

  /** A client connection to the given nodes (all by default) that reconnects between them. */
  connect(names?: string[]): Promise<NatsConnection> {
    const servers = names ? names.map((n) => this.node(n).url) : this.urls;
    return connect({
      servers,
      noRandomize: true,
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
      pingInterval: 1000,
      maxPingOut: 2,
    });
  }

  /** Stops every node (SIGKILL by PID) and removes the data directory. */
  async stop(): Promise<void> {
    for (const node of this.nodes) await node.process.stop("SIGKILL");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
