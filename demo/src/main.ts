// `npm run demo`: starts the demo and stops it cleanly on Ctrl-C / SIGTERM (exit 0).

import { parseDemoArgs, USAGE, UsageError, VERSION } from "./cli.ts";
import type { Demo } from "./demo.ts";

const out = (line: string) => process.stdout.write(`${line}\n`);

try {
  const command = parseDemoArgs(process.argv.slice(2));
  if (command.kind === "help") {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (command.kind === "version") {
    out(`locus demo ${VERSION}`);
    process.exit(0);
  }
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`locus demo: ${err.message} (see --help)\n`);
  process.exit(2);
}

// Signals are caught before the hub is loaded (which takes seconds on a busy machine): a Ctrl-C
// while loading exits 0 at once; while starting, the demo stops as soon as it is up. Repeated
// signals (a terminal's Ctrl-C reaches npm and this process) change nothing.
let stopRequested = false;
let stop: Demo["stop"] | null = null;
const finish = () => {
  out("locus demo: stopping the fleet and the hub");
  (stop ? stop() : Promise.resolve()).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`locus demo: error while stopping: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
const onSignal = () => {
  if (stopRequested) return;
  stopRequested = true;
  if (stop) finish();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const { DemoError, startDemo } = await import("./demo.ts");
if (stopRequested) process.exit(0);
try {
  const demo = await startDemo({ env: process.env, out });
  stop = demo.stop;
  if (stopRequested) finish();
} catch (err) {
  const message = err instanceof DemoError ? err.message : `could not start: ${String(err)}`;
  process.stderr.write(`locus demo: ${message}\n`);
  process.exit(1);
}
