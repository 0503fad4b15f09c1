// The hub's Prometheus metrics: one registry per hub instance, so tests and embedders never share state.

import { REJECT_REASONS } from "@locus/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { LIMIT_REASONS } from "./broker/limits.ts";
import { MQTT_REFUSALS } from "./identity/access.ts";
import type { StreamMetrics } from "./live/clients.ts";

/** Where fixes come from: the Locus protocol (agents, simulator), phone apps, trackers, imports. */
export const FIX_SOURCES = ["agent", "owntracks", "osmand", "import"] as const;
export type FixSource = (typeof FIX_SOURCES)[number];

export interface HubMetrics {
  registry: Registry;
  fixesAccepted: Counter;
  /** Fixes committed, by source (the sum is fixesAccepted). */
  fixesBySource: Counter<"source">;
  fixesDuplicate: Counter;
  fixesRejected: Counter<"reason">;
  events: Counter<"type">;
  outboxDepth: Gauge;
  ingestLatency: Histogram;
  groupCommitSize: Histogram;
  groupCommitsFailed: Counter;
  /** Group commits judged again because another hub had written a vehicle's state (PostgreSQL). */
  stateConflicts: Counter;
  /** Geofence changes announced by the database and applied here, by op (PostgreSQL). */
  geofenceNotifications: Counter<"op">;
  retentionDeleted: Counter;
  connectedDevices: Gauge;
  /** With several hubs (docs/scaling.md): partitions this hub holds, fixes it forwarded. */
  enginePartitionsHeld: Gauge;
  engineMqttSubjects: Gauge;
  engineFixesForwarded: Counter<"duplicate">;
  /** Logins, publishes and subscriptions the MQTT broker refused, by reason (CONTRACT §3). */
  mqttRefused: Counter<"reason">;
  /** MQTT clients refused, cut off or slowed down by the embedded broker's limits, by reason. */
  mqttLimited: Counter<"reason">;
  /** The live stream (GET /api/v1/stream). */
  streamClients: Gauge;
  streamMessagesSent: Counter;
  streamSlowDisconnects: Counter;
  streamFixesCoalesced: Counter;
  streamHeldBytes: Gauge;
  /** Webhooks (docs/webhooks.md), labelled by webhook id; the number of webhooks is bounded. */
  webhookDelivered: Counter<"webhook">;
  webhookFailed: Counter<"webhook">;
  webhookAttemptsFailed: Counter<"webhook">;
  webhookRetrying: Gauge<"webhook">;
  webhookLagEvents: Gauge<"webhook">;
  webhookLagSeconds: Gauge<"webhook">;
}

/** One webhook's state for the metrics, read at each scrape. */
export interface WebhookLag {
  id: string;
  /** Whether its current event has failed and waits for another attempt. */
  retrying: boolean;
  /** Outbox positions between its cursor and the newest event. */
  events: number;
  /** Age of the event it is delivering, s (0 when it has none). */
  seconds: number;
}

/** Creates the metrics; `sample` functions are read at each scrape. */
export function createMetrics(sample: {
  outboxDepth: () => number | Promise<number>;
  connectedDevices: () => number;
  /** Every webhook's state; absent: none. */
  webhooks?: () => readonly WebhookLag[];
  /** Partitions held on the engine; absent: one hub alone. */
  partitionsHeld?: () => number;
  /** Engine subjects this hub listens on for other hubs' MQTT publishes; absent: alone. */
  mqttRelaySubjects?: () => number;
}): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "locus_" });
  const fixesRejected = new Counter({
    name: "locus_fixes_rejected_total",
    help: "Fixes or messages dropped as malformed or out of range, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  for (const reason of REJECT_REASONS) fixesRejected.inc({ reason }, 0);
  const events = new Counter({
    name: "locus_events_total",
    help: "Geofence events detected, by type",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  for (const type of ["enter", "exit", "dwell"]) events.inc({ type }, 0);
  const mqttRefused = new Counter({
    name: "locus_mqtt_refused_total",
    help: "MQTT logins, publishes and subscriptions refused by the embedded broker, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  for (const reason of MQTT_REFUSALS) mqttRefused.inc({ reason }, 0);
  const mqttLimited = new Counter({
    name: "locus_mqtt_limited_total",
    help: "MQTT clients refused, disconnected or slowed down by a limit of the embedded broker, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  for (const reason of LIMIT_REASONS) mqttLimited.inc({ reason }, 0);
  const fixesBySource = new Counter({
    name: "locus_fixes_by_source_total",
    help: "Fixes committed to the store, by source: agent (locus/vehicles/+/location), owntracks, osmand, import",
    labelNames: ["source"] as const,
    registers: [registry],
  });
  for (const source of FIX_SOURCES) fixesBySource.inc({ source }, 0);
  const webhookStates = () => sample.webhooks?.() ?? [];
  /** A per-webhook gauge set from the webhooks' state at each scrape. */
  const webhookGauge = (name: string, help: string, value: (w: WebhookLag) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["webhook"] as const,
      registers: [registry],
      collect() {
        // Deleted webhooks drop out.
        this.reset();
        for (const w of webhookStates()) this.set({ webhook: w.id }, value(w));
      },
    });
  return {
    registry,
    fixesAccepted: new Counter({
      name: "locus_fixes_accepted_total",
      help: "Fixes committed to the store",
      registers: [registry],
    }),
    fixesDuplicate: new Counter({
      name: "locus_fixes_duplicate_total",
      help: "Fixes received again (same vehicle, ts and seq) and not stored twice",
      registers: [registry],
    }),
    fixesBySource,
    fixesRejected,
    events,
    outboxDepth: new Gauge({
      name: "locus_outbox_depth",
      help: "Events committed but not yet published",
      registers: [registry],
      async collect() {
        this.set(await sample.outboxDepth());
      },
    }),
    ingestLatency: new Histogram({
      name: "locus_ingest_latency_seconds",
      help: "From a location message's arrival to the commit of its fixes",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    groupCommitSize: new Histogram({
      name: "locus_group_commit_fixes",
      help: "Fixes written per group commit",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers: [registry],
    }),
    groupCommitsFailed: new Counter({
      name: "locus_group_commits_failed_total",
      help: "Group commits the store refused (a full disk, say): their messages were not acknowledged",
      registers: [registry],
    }),
    stateConflicts: new Counter({
      name: "locus_state_conflicts_total",
      help: "Group commits judged again because another hub had written a vehicle's state since it was read",
      registers: [registry],
    }),
    geofenceNotifications: new Counter({
      name: "locus_geofence_notifications_total",
      help: "Geofence changes announced by the database (made here or by another hub) and applied to this hub's engine, by op (upsert, delete, resync)",
      labelNames: ["op"],
      registers: [registry],
    }),
    retentionDeleted: new Counter({
      name: "locus_retention_deleted_total",
      help: "Fixes and delivered events deleted as older than LOCUS_RETENTION_DAYS",
      registers: [registry],
    }),
    mqttLimited,
    connectedDevices: new Gauge({
      name: "locus_connected_devices",
      help: "MQTT clients connected to the embedded broker",
      registers: [registry],
      collect() {
        this.set(sample.connectedDevices());
      },
    }),
    mqttRefused,
    enginePartitionsHeld: new Gauge({
      name: "locus_engine_partitions_held",
      help: "Partitions of the fleet this hub holds on the engine (0 without one)",
      registers: [registry],
      collect() {
        this.set(sample.partitionsHeld?.() ?? 0);
      },
    }),
    engineMqttSubjects: new Gauge({
      name: "locus_engine_mqtt_subjects",
      help: "Engine subjects this hub listens on for what other hubs' MQTT clients publish (the filters its own clients hold)",
      registers: [registry],
      collect() {
        this.set(sample.mqttRelaySubjects?.() ?? 0);
      },
    }),
    engineFixesForwarded: new Counter({
      name: "locus_engine_fixes_forwarded_total",
      help: "Fixes this hub received and stored on the engine for their partition's owner; duplicate: the engine had them already",
      labelNames: ["duplicate"] as const,
      registers: [registry],
    }),
    streamClients: new Gauge({
      name: "locus_stream_clients",
      help: "Authenticated clients of the live stream (GET /api/v1/stream)",
      registers: [registry],
    }),
    streamMessagesSent: new Counter({
      name: "locus_stream_messages_sent_total",
      help: "Messages written to live stream clients (snapshots, fixes, events, geofences, status)",
      registers: [registry],
    }),
    streamSlowDisconnects: new Counter({
      name: "locus_stream_slow_disconnects_total",
      help: "Live stream clients disconnected for reading too slowly (close code 4408)",
      registers: [registry],
    }),
    streamFixesCoalesced: new Counter({
      name: "locus_stream_fixes_coalesced_total",
      help: "Fixes not streamed because a newer fix of the same vehicle replaced them first",
      registers: [registry],
    }),
    streamHeldBytes: new Gauge({
      name: "locus_stream_held_bytes",
      help: "Bytes held for live stream clients: queued messages and unsent socket buffers",
      registers: [registry],
    }),
    webhookDelivered: new Counter({
      name: "locus_webhook_delivered_total",
      help: "Events delivered to a webhook (answered 2xx), by webhook id",
      labelNames: ["webhook"] as const,
      registers: [registry],
    }),
    webhookFailed: new Counter({
      name: "locus_webhook_failed_total",
      help: "Events given up for a webhook after retrying for the whole retry period, by webhook id",
      labelNames: ["webhook"] as const,
      registers: [registry],
    }),
    webhookAttemptsFailed: new Counter({
      name: "locus_webhook_attempts_failed_total",
      help: "Delivery attempts that got no 2xx answer (each is retried or given up), by webhook id",
      labelNames: ["webhook"] as const,
      registers: [registry],
    }),
    webhookRetrying: webhookGauge(
      "locus_webhook_retrying",
      "1 while a webhook's current event has failed and waits for its next attempt, by webhook id",
      (w) => (w.retrying ? 1 : 0),
    ),
    webhookLagEvents: webhookGauge(
      "locus_webhook_lag_events",
      "Outbox positions between a webhook's cursor and the newest event (events it has still to send or skip), by webhook id",
      (w) => w.events,
    ),
    webhookLagSeconds: webhookGauge(
      "locus_webhook_lag_seconds",
      "Age of the event a webhook is delivering now (0 when it is caught up), by webhook id",
      (w) => w.seconds,
    ),
  };
}

/** The live stream's view of the metrics. */
export function streamMetrics(m: HubMetrics): StreamMetrics {
  return {
    sent: () => m.streamMessagesSent.inc(),
    coalesced: (count) => m.streamFixesCoalesced.inc(count),
    tooSlow: () => m.streamSlowDisconnects.inc(),
    clients: (count) => m.streamClients.set(count),
    heldBytes: (bytes) => m.streamHeldBytes.set(bytes),
  };
}
