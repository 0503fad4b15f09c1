// A throwaway X display (Xvfb) for a browser that needs one: headless Firefox has no WebGL on
// Linux, a headed one on Xvfb renders through Mesa's llvmpipe. Xvfb picks a free display number
// itself (-displayfd) and is stopped by its PID.

import { spawn } from "node:child_process";

export interface Xvfb {
  /** The DISPLAY value, e.g. ":99". */
  display: string;
  stop(): Promise<void>;
}

export function startXvfb(timeoutMs = 20_000): Promise<Xvfb> {
  const child = spawn(
    "Xvfb",
    ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  let errors = "";
  child.stderr?.on("data", (d) => {
    errors += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`Xvfb did not report its display in time:\n${errors}`));
    }, timeoutMs);
    let out = "";
    child.stdio[3]?.on("data", (d) => {
      out += d;
      const number = /^(\d+)\n/.exec(out)?.[1];
      if (number !== undefined) {
        clearTimeout(timer);
        resolve({ display: `:${number}`, stop });
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited before it was ready:\n${errors}`));
    });
  });
}
