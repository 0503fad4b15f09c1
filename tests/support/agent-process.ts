// The agent's command line as a child process, for black-box tests: its stdin to feed fixes, its
// stderr to read, and how it exited.

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface AgentProcess {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | string>;
}

/**
 * Runs `npm run agent -- …args` from source. With `env`, the agent sees only PATH, HOME and those
 * variables (so none of the test's own LOCUS_* settings leak in); without, the test's environment.
 */
export function startAgent(args: string[], env?: Record<string, string>): AgentProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "agent/src/main.ts", ...args], {
    cwd: ROOT,
    ...(env === undefined
      ? {}
      : { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } }),
    stdio: ["pipe", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return { child, stderr: () => err, exited };
}
