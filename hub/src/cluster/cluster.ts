// A hub's part in a fleet shared by several hubs through the engine (docs/scaling.md): devices'
// fixes are forwarded into their partitions; the partitions this hub owns are read into its group
// commit under their fencing tokens; committed events and fixes reach every hub, and so do
// account changes and what MQTT clients publish. The owner of that flow: hub.ts only plugs it in.

import { randomBytes } from "node:crypto";
import type { Fix, GeofenceEvent } from "@locus/protocol";
import type { BrokerAccounts } from "../identity/broker-accounts.ts";
import type { PartitionClaim, Store } from "../store/store.ts";
import { AccountNotices } from "./account-notices.ts";
import { DeviceRelay } from "./device-relay.ts";
import { EngineLink, type EngineSettings } from "./engine-link.ts";
import { FixForwarder } from "./fix-forwarder.ts";
import { PartitionLeases } from "./leases.ts";
import { type ClaimedSink, PartitionConsumer } from "./partition-consumer.ts";
import { ClusterRelay } from "./relay.ts";

export interface ClusterOptions {
  settings: EngineSettings;
  /** The hub's group commit: fixes of held partitions go there, with their claims. */
  pipeline: ClaimedSink;
  store: Pick<Store, "claimPartition">;
  /** Committed events from every hub, once each. */
  onEvent: (payload: string, event: GeofenceEvent) => void;
  /** Committed fixes from every hub. */
  onFixes: (fixes: Fix[]) => void;
  /** What another hub's MQTT client published, for this hub's broker (device-relay.ts). */
  onDeviceMessage: (topic: string, payload: Uint8Array, retain: boolean) => void;
  /** Fixes stored on the engine for their partition's owner (duplicate: it had them). */
  onForwarded?: (fixes: number, duplicate: boolean) => void;
  onTaken?: (partition: number, token: number) => void;
  /** Forgets remembered MQTT logins: of an account another hub changed, or (null) of all. */
  forgetLogins: (username: string | null) => void;
  onDropped?: (partition: number) => void;
  onError: (err: Error, context: string) => void;
  /** A setting this hub changed on the engine (LOCUS_ENGINE_RETENTION_HOURS). */
  onNotice?: (message: string) => void;
}

export class Cluster {
  readonly member: string;
  readonly forwarder: FixForwarder;
  /** MQTT across hubs: this hub's broker's bridge. */
  readonly devices: DeviceRelay;
  readonly #link: EngineLink;
  readonly #relay: ClusterRelay;
  readonly #leases: PartitionLeases;
  readonly #accounts: AccountNotices;
  readonly #consumers = new Map<number, PartitionConsumer>();

  private constructor(o: ClusterOptions, link: EngineLink, relay: ClusterRelay) {
    this.#link = link;
    this.#relay = relay;
    // Unique per process, a valid key in the ownership buckets.
    this.member = `${o.settings.name.replace(/[^A-Za-z0-9_-]/g, "_")}-${randomBytes(4).toString("hex")}`;
    this.#accounts = new AccountNotices({
      nc: link.nc,
      member: this.member,
      forget: o.forgetLogins,
      onError: (err) => o.onError(err, "account notices"),
    });
    this.devices = new DeviceRelay({
      nc: link.nc,
      member: this.member,
      deliver: o.onDeviceMessage,
      onError: (err) => o.onError(err, "mqtt across hubs"),
    });
    this.forwarder = new FixForwarder({
      js: link.js,
      partitions: o.settings.partitions,
      ...(o.onForwarded ? { onForwarded: o.onForwarded } : {}),
    });
    this.#leases = new PartitionLeases({
      members: link.members,
      partitionsKv: link.owners,
      partitions: o.settings.partitions,
      member: this.member,
      leaseMs: o.settings.leaseMs,
      onError: (err) => o.onError(err, "partition leases"),
      owner: {
        take: async (partition) => {
          // Claimed in the database first, under a token higher than any before: the previous
          // owner's commits fail from here on, and what it committed is where reading goes on.
          if (o.store.claimPartition === undefined) {
            throw new Error("sharing the fleet needs a store several hubs can share");
          }
          const { token, committedSeq } = await o.store.claimPartition(partition, this.member);
          const claim: PartitionClaim = { partition, token, owner: this.member };
          const consumer = new PartitionConsumer({
            js: link.js,
            jsm: link.jsm,
            sink: o.pipeline,
            claim,
            committedSeq,
            onFenced: (p) => void this.#leases.lost(p),
            onError: (err, p) => o.onError(err, `partition ${p}`),
          });
          this.#consumers.set(partition, consumer);
          consumer.start();
          o.onTaken?.(partition, token);
        },
        drop: async (partition) => {
          const consumer = this.#consumers.get(partition);
          this.#consumers.delete(partition);
          await consumer?.stop();
          o.onDropped?.(partition);
        },
      },
    });
  }

  static async start(o: ClusterOptions): Promise<Cluster> {
    const link = await EngineLink.open(o.settings, o.onNotice);
    try {
      const relay = await ClusterRelay.start({
        link,
        onEvent: o.onEvent,
        onFixes: o.onFixes,
        onError: (err) => o.onError(err, "relay"),
      });
      const cluster = new Cluster(o, link, relay);
      await cluster.#leases.start();
      return cluster;
    } catch (err) {
      await link.close();
      throw err;
    }
  }

  /** Whether this hub reaches the engine now. */
  get connected(): boolean {
    return this.#link.connected;
  }

  /** The partitions this hub reads now, with their fencing tokens. */
  held(): Map<number, number> {
    return new Map([...this.#consumers].map(([p, c]) => [p, c.token]));
  }

  /** This hub's broker side of MQTT accounts, with changes announced to the other hubs. */
  accountsAcrossHubs(local: BrokerAccounts): BrokerAccounts {
    return this.#accounts.across(local);
  }

  /** The outbox's way out (see ClusterRelay.publishEvent). */
  publishEvent(payload: string, id: string): Promise<void> {
    return this.#relay.publishEvent(payload, id);
  }

  publishFixes(fixes: readonly Fix[]): void {
    this.#relay.publishFixes(fixes);
  }

  /** Stops forwarding (what is under way finishes); call before releasePartitions(). */
  async stopForwarding(): Promise<void> {
    this.forwarder.stop();
    await this.forwarder.idle();
  }

  /**
   * Gives every partition back once what this hub took from it is committed, so the other hubs
   * go on at once. Events and live fixes still flow until close().
   */
  async releasePartitions(): Promise<void> {
    await this.#leases.stop();
  }

  /** Leaves the engine. */
  async close(): Promise<void> {
    await this.#leases.stop();
    await this.#accounts.stop();
    this.devices.stop();
    await this.#relay.stop();
    await this.#link.close();
  }
}
