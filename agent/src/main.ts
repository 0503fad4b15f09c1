// `locus-agent` (and `npm run agent -- …`): reads the command line, runs the agent or prints a
// buffer's status, and turns SIGINT/SIGTERM into a clean stop.

import { type Command, parseArgs, USAGE, UsageError, VERSION } from "./cli/args.ts";
import { runAgent } from "./cli/run.ts";
import { openSource } from "./sources/index.ts";
import { runStatus } from "./status.ts";

const stderr = (line: string) => process.stderr.write(line);

async function main(): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr(`locus-agent: ${err.message} (locus-agent --help lists the options)\n`);
    return 2;
  }
  switch (command.kind) {
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "version":
      process.stdout.write(`locus-agent ${VERSION}\n`);
      return 0;
    case "status":
      return runStatus(
        command.buffer,
        command.json,
        (text) => process.stdout.write(text),
        (line) => stderr(`locus-agent: ${line}\n`),
      );
    case "run": {
      const stop = new AbortController();
      const onSignal = () => {
        if (!stop.signal.aborted) {
          stop.abort();
          return;
        }
        // A second signal: leave at once; what is not acknowledged is safe in the buffer.
        stderr("locus-agent: stopped without waiting for acknowledgements\n");
        process.exit(1);
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      return runAgent(command.config, { openSource, signal: stop.signal, write: stderr });
    }
  }
}

try {
  // Exit explicitly: an open stdin or serial device would otherwise keep the process alive.
  process.exit(await main());
} catch (err) {
  stderr(`locus-agent: error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
