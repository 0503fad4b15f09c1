// The demo's command line: only --help and --version; the hub's settings come from the
// environment, as for `npm start`.

import { readFlags } from "@locus/protocol/cli";
import demoPackage from "../package.json" with { type: "json" };

export { UsageError } from "@locus/protocol/cli";

export type DemoCommand = { kind: "run" } | { kind: "help" } | { kind: "version" };

/** The demo's version, as `--version` prints it. */
export const VERSION: string = demoPackage.version;

export const USAGE = `usage: npm run demo

Starts the embedded hub with sample geofences in downtown Los Angeles and 200 simulated
vehicles driving through them, and prints each enter/exit event as it arrives. Ctrl-C stops it.

Settings are the hub's environment variables (npm start -- --help lists them). The demo keeps
its data in a fresh temporary directory (LOCUS_DATA_DIR is not used), and when LOCUS_HTTP_PORT or
LOCUS_MQTT_PORT is not set and its default (3000, 1883) is taken, it takes a free port instead.

  --help      print this help
  --version   print the version
`;

/** Reads the arguments after the program name. Throws a UsageError on any other argument. */
export function parseDemoArgs(argv: readonly string[]): DemoCommand {
  const { switches } = readFlags(argv, { values: [], switches: [] });
  if (switches.has("help")) return { kind: "help" };
  if (switches.has("version")) return { kind: "version" };
  return { kind: "run" };
}
