// Criterion 2: three consumer processes share the partitions, one owner each; one of them dies
// (SIGKILL) mid-stream. Measures how long its partitions go unconsumed and checks that every
// acknowledged fix is processed, per vehicle in order, counting redeliveries.

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { waitFor } from "../../tests/support/node-process.ts";
import type { Engine } from "./engine.ts";
import { decodeFix, encodeFix, FixSource, Ledger, type LedgerCheck } from "./fixes.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CONSUMER = path.join(import.meta.dirname, "partition-consumer.ts");

export interface FailoverOptions {
  partitions: number;
  vehicles: number;
  rate: number;
  seconds: number;
  window: number;
  /** Seconds into the run when the busiest consumer dies. */
  killAfterSeconds: number;
  /** NATS: lease time to live, ms. */
  leaseMs: number;
}

export interface FailoverResult extends LedgerCheck {
  /** Partitions the killed consumer was consuming. */
  orphaned: number;
  /** From SIGKILL until every orphaned partition was consumed again, ms (the slowest one). */
  failoverMs: number;
  /** Times a partition's deliveries moved from one consumer to another after the start. */
  ownerChanges: number;
  /** Deliveries by a consumer other than the partition's owner at that moment (should be 0). */
  foreignDeliveries: number;
}

interface Child {
  id: number;
  process: ChildProcess;
  alive: boolean;
}

export async function failoverScenario(
  engine: Engine,
  options: FailoverOptions,
): Promise<FailoverResult> {
  await engine.setupPartitions(options.partitions);
  await engine.prepareConsumerGroup(options.leaseMs);
  const ledger = new Ledger();
  const owner = new Map<number, number>();
  let ownerChanges = 0;
  let foreignDeliveries = 0;
  let killedAt = 0;
  let victim = -1;
  const orphaned = new Set<number>();
  const retaken = new Map<number, number>();
  const children: Child[] = [];
  const ready = new Set<number>();
  const base = engine.consumerProcessConfig(options.partitions);
  for (let id = 0; id < 3; id++) {
    const config = {
      ...base,
      id,
      group: 3,
      tickMs: Math.max(100, Math.floor(options.leaseMs / 8)),
    };
    const child = spawn(process.execPath, ["--import", "tsx", CONSUMER, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const entry: Child = { id, process: child, alive: true };
    children.push(entry);
    child.once("exit", () => {
      entry.alive = false;
    });
    child.stderr?.on("data", () => undefined);
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line === "R") ready.add(id);
      if (!line.startsWith("D ")) return;
      const space = line.indexOf(" ", 2);
      const p = Number(line.slice(2, space));
      const fix = decodeFix(Buffer.from(line.slice(space + 1)));
      const now = Date.now();
      const current = owner.get(p);
      if (current !== id) {
        // A consumer other than the last one is delivering this partition: fine only if the
        // last one is dead (failover) or this is the first delivery.
        const previous = children.find((c) => c.id === current);
        if (previous?.alive) foreignDeliveries += 1;
        if (current !== undefined) ownerChanges += 1;
        owner.set(p, id);
        if (killedAt && orphaned.has(p) && !retaken.has(p)) retaken.set(p, now - killedAt);
      }
      ledger.deliver(fix, now);
    });
  }
  try {
    await waitFor("three consumers ready", () => ready.size === 3, 60_000, 50);
    const publisher = await engine.publisher(engine.nodeNames[0] ?? "");
    const source = new FixSource(options.vehicles);
    const total = options.rate * options.seconds;
    const inFlight = new Set<string>();
    const acks: Promise<void>[] = [];
    let sent = 0;
    const started = Date.now();
    while (sent < total) {
      if (!killedAt && Date.now() - started >= options.killAfterSeconds * 1000) {
        // The busiest consumer dies: the one owning most partitions now.
        const counts = new Map<number, number>();
        for (const id of owner.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
        victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
        for (const [p, id] of owner) if (id === victim) orphaned.add(p);
        const child = children[victim];
        if (child?.process.pid) process.kill(child.process.pid, "SIGKILL");
        killedAt = Date.now();
      }
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * options.rate));
      while (sent < due && inFlight.size < options.window && !inFlight.has(source.peek().vehicle)) {
        const fix = source.next();
        sent += 1;
        inFlight.add(fix.vehicle);
        acks.push(
          publisher.publish(fix.vehicle, fix.n, encodeFix(fix)).then(() => {
            inFlight.delete(fix.vehicle);
            ledger.ack(fix);
          }),
        );
      }
      await sleep(5);
    }
    await Promise.all(acks);
    await publisher.close();
    await waitFor("every acknowledged fix processed", () => ledger.complete(), 30_000, 50).catch(
      () => undefined,
    );
  } finally {
    for (const child of children) {
      if (child.alive && child.process.pid) process.kill(child.process.pid, "SIGKILL");
    }
  }
  const failoverMs =
    orphaned.size === 0 || retaken.size < orphaned.size ? -1 : Math.max(...retaken.values());
  return {
    ...ledger.check(),
    orphaned: orphaned.size,
    failoverMs,
    ownerChanges,
    foreignDeliveries,
  };
}
