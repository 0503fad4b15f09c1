// `npm start`: the hub with embedded defaults. Reads config, starts, prints where it listens.

import { parseHubArgs, USAGE, UsageError, VERSION } from "./cli.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { startHub } from "./hub.ts";

function fail(err: unknown): never {
  const message = err instanceof ConfigError ? err.message : `could not start: ${String(err)}`;
  process.stderr.write(`locus hub: ${message}\n`);
  process.exit(1);
}

/** --help and --version answer and exit; any other argument is a mistake (exit 2). */
function readCommandLine(): void {
  let command: ReturnType<typeof parseHubArgs>;
  try {
    command = parseHubArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(
      `locus hub: ${err.message} (the hub takes its settings from LOCUS_* environment variables; --help lists them)\n`,
    );
    process.exit(2);
  }
  if (command.kind === "help") {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (command.kind === "version") {
    process.stdout.write(`locus hub ${VERSION}\n`);
    process.exit(0);
  }
}

async function main(): Promise<void> {
  readCommandLine();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    fail(err);
  }
  const hub = await startHub(config).catch(fail);
  // Before the ready line: whoever waits for it may send SIGTERM at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.logger.info({ signal }, "stopping");
    hub.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`locus hub: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  const token =
    hub.tokenSource === "env"
      ? "(from LOCUS_API_TOKEN)"
      : `${hub.token} (${hub.tokenSource === "generated" ? "generated, saved in" : "from"} ${hub.tokenFile})`;
  process.stdout.write(
    `locus hub ready  http: ${hub.httpUrl}  mqtt: ${hub.mqttUrl}${hub.mqttTlsUrl ? `  mqtts: ${hub.mqttTlsUrl}` : ""}  api token: ${token}\n`,
  );
  // A way into the map without copying the token, printed only where the token itself is: a hub
  // whose token comes from LOCUS_API_TOKEN keeps both out of its logs.
  if (hub.tokenSource !== "env") {
    process.stdout.write(
      `locus hub map: ${hub.loginLink()}  (a one-time login link, 15 minutes)\n`,
    );
  }
}

await main();
