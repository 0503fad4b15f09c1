// `npm run demo`: starts the demo and stops it cleanly on Ctrl-C / SIGTERM (exit 0).

import { DemoError, startDemo } from "./demo.ts";

const out = (line: string) => process.stdout.write(`${line}\n`);

let stopRequested = false;
let stop: (() => Promise<void>) | null = null;
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
// Repeated signals (a terminal's Ctrl-C reaches npm, tsx and this process) change nothing.
const onSignal = () => {
  if (stopRequested) return;
  stopRequested = true;
  if (stop) finish();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

try {
  const demo = await startDemo({ env: process.env, out });
  stop = demo.stop;
  if (stopRequested) finish();
} catch (err) {
  const message = err instanceof DemoError ? err.message : `could not start: ${String(err)}`;
  process.stderr.write(`locus demo: ${message}\n`);
  process.exit(1);
}
