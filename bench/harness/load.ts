// Runs the load generator (load-process.ts) as a child process and lets the caller take
// readings at the moments its measuring window opens and closes.

import { spawn } from "node:child_process";
import path from "node:path";
import type { LoadCommand, LoadMessage, LoadPlan, LoadResult } from "./load-plan.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface LoadHooks {
  /** Runs when the measuring window opens (after the warm-up). */
  onWindowStart?: (at: number) => void | Promise<void>;
  /** Runs when the measuring window closes, before the last PUBACKs are awaited. */
  onWindowEnd?: (at: number) => void | Promise<void>;
}

export type { LoadPlan, LoadResult } from "./load-plan.ts";

/** Connects every publisher, runs the plan and resolves with the load generator's figures. */
export async function runLoad(plan: LoadPlan, hooks: LoadHooks = {}): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join("bench", "harness", "load-process.ts")],
    { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  const command = (c: LoadCommand) => child.send(c);
  const pending: Promise<unknown>[] = [];
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      child.once("exit", (code, signal) =>
        reject(new Error(`load generator exited (${code ?? signal}) before it finished`)),
      );
      child.on("message", (message: LoadMessage) => {
        switch (message.type) {
          case "connected":
            command({ type: "go" });
            break;
          case "window-start":
            pending.push(Promise.resolve(hooks.onWindowStart?.(message.at)));
            break;
          case "window-end":
            pending.push(Promise.resolve(hooks.onWindowEnd?.(message.at)));
            break;
          case "done":
            Promise.all(pending).then(() => resolve(message.result), reject);
            break;
          case "failed":
            reject(new Error(`load generator: ${message.error}`));
            break;
        }
      });
      command({ type: "plan", plan });
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/**
 * Runs the plan and takes `reading` as the measuring window opens and as it closes; rejects when
 * a publisher failed, so the figures between the two readings are those of a whole run.
 */
export async function runLoadWindow<R>(
  plan: LoadPlan,
  reading: () => Promise<R>,
): Promise<{ result: LoadResult; start: R; end: R }> {
  let start: R | undefined;
  let end: R | undefined;
  const result = await runLoad(plan, {
    onWindowStart: async () => {
      start = await reading();
    },
    onWindowEnd: async () => {
      end = await reading();
    },
  });
  if (result.errors.length > 0) throw new Error(`publishers: ${result.errors.join("; ")}`);
  if (start === undefined || end === undefined) throw new Error("the window never opened");
  return { result, start, end };
}
