// `npm run simulate -- …`: reads the flags, runs the fleet until --duration or Ctrl-C.

import type { Command } from "./cli/args.ts";

// Signals are caught before anything is loaded: loading takes a while on a busy machine, and a
// Ctrl-C meanwhile must still end with exit code 0. A second signal changes nothing: the stop is
// bounded (agents wait at most 3 s for acknowledgements).
const abort = new AbortController();
process.on("SIGINT", () => abort.abort());
process.on("SIGTERM", () => abort.abort());

const { parseArgs, USAGE, UsageError, VERSION } = await import("./cli/args.ts");
const { runSimulation } = await import("./cli/run.ts");

let command: Command;
try {
  command = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`locus simulate: ${err.message} (see --help)\n`);
  process.exit(2);
}
if (command.kind === "help") {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (command.kind === "version") {
  process.stdout.write(`locus simulate ${VERSION}\n`);
  process.exit(0);
}
if (abort.signal.aborted) process.exit(0);

const code = await runSimulation(command.config, {
  signal: abort.signal,
  out: process.stdout,
  err: process.stderr,
});
process.exit(code);
