// The hub's command line: only --help and --version. Its settings come from the environment
// (CONTRACT §2), so that one container image, a systemd unit and `npm start` configure it alike.

import { readFlags } from "@locus/protocol/cli";
import hubPackage from "../package.json" with { type: "json" };

export { UsageError } from "@locus/protocol/cli";

export type HubCommand = { kind: "run" } | { kind: "help" } | { kind: "version" };

/** The hub's version, as `--version` prints it. */
export const VERSION: string = hubPackage.version;

export const USAGE = `usage: npm start   (or: node --import tsx hub/src/main.ts)

Runs the Locus hub: MQTT ingestion, geofence detection, storage, REST API and live map. Its
settings are environment variables (default in brackets), not options:

  LOCUS_HTTP_HOST, LOCUS_HTTP_PORT     REST API, map and metrics [127.0.0.1, 3000]
  LOCUS_MQTT_URL                       an external broker, e.g. mqtt://mosquitto:1883
                                       [unset: the embedded broker]
  LOCUS_MQTT_HOST, LOCUS_MQTT_PORT     where the embedded broker listens [127.0.0.1, 1883]
  LOCUS_TLS_CERT, LOCUS_TLS_KEY        PEM certificate (chain) and key: HTTPS, and MQTT over
                                       TLS on the embedded broker [unset: no TLS]
  LOCUS_MQTT_TLS_PORT                  where the embedded broker listens for MQTT over TLS [8883]
  LOCUS_MQTT_ALLOW_ANONYMOUS           clients without credentials may publish fixes
                                       [true for the embedded broker on loopback, else false]
  LOCUS_MQTT_MAX_RETAINED, LOCUS_MQTT_MAX_RETAINED_BYTES
                                       the embedded broker's retained messages, at most
                                       [100000, 67108864]
  LOCUS_MQTT_USERNAME, LOCUS_MQTT_PASSWORD
                                       the hub's account on the external broker
  LOCUS_MQTT_CLIENT_ID                 its client id there [locus-hub]
  LOCUS_MQTT_SESSION_EXPIRY_S          how long that broker keeps its session [604800]
  LOCUS_MQTT_RECEIVE_MAXIMUM           messages it may send before the hub acknowledges [1000]
  LOCUS_DATABASE_URL                   postgres://... selects PostgreSQL + PostGIS [unset: SQLite]
  LOCUS_GEOFENCE_EVAL                  memory or postgis (PostgreSQL only) [memory]
  LOCUS_DATA_DIR                       SQLite file, generated token [./data]
  LOCUS_API_TOKEN                      bearer token for the REST API [generated, kept, printed]
  LOCUS_MAX_PAYLOAD_BYTES              largest location message [262144]
  LOCUS_MAX_FUTURE_S                   how far a fix's ts may be ahead of the hub's clock [600]
  LOCUS_RETENTION_DAYS                 delete fixes and delivered events older than this [off]
  LOCUS_STREAM_MAX_CLIENTS             live stream (WebSocket) connections at most [1000]
  LOCUS_STREAM_AUTH_TIMEOUT_MS, LOCUS_STREAM_HIGH_WATER_BYTES, LOCUS_STREAM_STALL_TIMEOUT_MS
                                       its auth timeout and slow-client bounds (docs/stream.md)
                                       [10000, 1048576, 30000]
  LOCUS_WEBHOOK_ALLOW_PRIVATE          webhook URLs may point at loopback, private addresses [false]
  LOCUS_WEBHOOK_MAX, LOCUS_WEBHOOK_TIMEOUT_MS, LOCUS_WEBHOOK_RETRY_FOR_S, …
                                       webhooks at most, attempt timeout, retry period (docs/webhooks.md)
                                       [100, 10000, 86400]
  LOCUS_HTTP_BODY_LIMIT                largest REST request body [8388608]
  LOCUS_MAX_ACCURACY_M                 fixes less accurate change no membership [off]
  LOCUS_SQLITE_SYNCHRONOUS             full or normal [full]
  LOCUS_GROUP_COMMIT_MAX_FIXES         most fixes per commit [5000]
  LOCUS_OUTBOX_GRACE_MS                after a start, wait before publishing events [2000]
  LOCUS_LOG_LEVEL                      pino level [warn]
  LOCUS_MAP_STYLE_URL                  an online MapLibre style for the map [offline basemap]

README.md describes each; docs/ the rest.

  --help                               print this help
  --version                            print the version
`;

/** Reads the arguments after the program name. Throws a UsageError on any other argument. */
export function parseHubArgs(argv: readonly string[]): HubCommand {
  const { switches } = readFlags(argv, { values: [], switches: [] });
  if (switches.has("help")) return { kind: "help" };
  if (switches.has("version")) return { kind: "version" };
  return { kind: "run" };
}
