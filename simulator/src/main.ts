// `npm run simulate -- …`: reads the flags, runs the fleet until --duration or Ctrl-C.

import { parseArgs, USAGE, UsageError } from "./cli/args.ts";
import { runSimulation } from "./cli/run.ts";

function usageFailure(message: string): never {
  process.stderr.write(`locus simulate: ${message} (see --help)\n`);
  process.exit(2);
}

let command: ReturnType<typeof parseArgs>;
try {
  command = parseArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) usageFailure(err.message);
  throw err;
}
if (command.kind === "help") {
  process.stdout.write(USAGE);
  process.exit(0);
}

// A second signal changes nothing: the stop is already bounded (agents wait at most 3 s for
// acknowledgements), and a terminal's Ctrl-C may reach this process twice (via npm and tsx).
const abort = new AbortController();
process.on("SIGINT", () => abort.abort());
process.on("SIGTERM", () => abort.abort());

const code = await runSimulation(command.config, {
  signal: abort.signal,
  out: process.stdout,
  err: process.stderr,
});
process.exit(code);
